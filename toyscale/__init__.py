"""toyscale: solvable toy models of neural scaling laws, swept as one jitted program."""

import os as _os

__version__ = "0.1.0"


def _xla_cpu_workaround() -> None:
    # XLA's CPU "concurrency optimized" scheduler (jaxlib 0.10) can wedge its thread pool on
    # vmapped graphs with several independent LAPACK calls (a flaky hang in
    # block_until_ready, all workers idle). Turning that scheduler off removes the hang; it
    # must be set before JAX creates its CPU backend. Opt out: TOYSCALE_NO_XLA_WORKAROUND=1.
    if _os.environ.get("TOYSCALE_NO_XLA_WORKAROUND"):
        return
    flags = _os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_enable_concurrency_optimized_scheduler" not in flags:
        _os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_enable_concurrency_optimized_scheduler=false").strip()


_xla_cpu_workaround()
