"""toyscale: solvable toy models of neural scaling laws, swept as one jitted program, fitted with
honest uncertainty, and held against the exponents theory derives.

Public API::

    toyscale.run(experiment, out=None, *, quick=False, set=(), progress=True) -> Results
    toyscale.load(out) -> Results
    toyscale.load_experiment(path, quick=False, overrides=()) -> Experiment
    toyscale.list_models() / toyscale.get_model(name)
    toyscale.fit            # the fitting toolkit (power, offset, joint, broken laws; bootstrap)
    toyscale.UserError      # bad input, naming the field

See ``help(toyscale.run)`` and the README.
"""

import os as _os

__version__ = "0.2.0"


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
# Shared GPUs: do not let JAX reserve 75 % of a device's memory at start-up (toyscale sizes its
# chunks from the memory budget instead). Only a default: an explicit setting wins.
_os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from toyscale import fit  # noqa: E402
from toyscale.api import Results, load, run  # noqa: E402
from toyscale.errors import UserError  # noqa: E402
from toyscale.experiment import Experiment, load_experiment  # noqa: E402
from toyscale.models import get_model, list_models  # noqa: E402

__all__ = ["Experiment", "Results", "UserError", "fit", "get_model", "list_models", "load", "load_experiment", "run"]
