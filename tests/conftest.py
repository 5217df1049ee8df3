"""Test configuration: float64 numerics (closed forms are compared to ~1e-9)."""

import os

os.environ.setdefault("TOYSCALE_NO_PROGRESS", "1")
# the float64 precision audit of float32 runs is tested where it is the subject (test_precision.py,
# audit=True); elsewhere it would add a float64 compilation to every float32 run
os.environ.setdefault("TOYSCALE_AUDIT", "0")
os.environ.setdefault("TOYSCALE_COMPILATION_CACHE", "0")  # no state shared across test processes

import jax  # noqa: E402

import toyscale  # noqa: E402,F401  (applies the XLA CPU workaround before the backend starts)

jax.config.update("jax_enable_x64", True)


import gc  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop every compiled program after each test module. One process compiles thousands of
    XLA CPU executables over the suite; each maps its own code pages, and past the kernel's
    ``vm.max_map_count`` (65 530 here) the next compile dies with a segmentation fault (seen
    three times, always ~60 % into the run, inside ``backend_compile_and_load`` or the
    compilation cache)."""
    yield
    jax.clear_caches()
    gc.collect()
