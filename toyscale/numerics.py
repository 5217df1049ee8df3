"""Numerical helpers shared by the theory and fitting code."""

from __future__ import annotations

import functools


def with_x64(fn):
    """Decorator: run ``fn`` with JAX's 64-bit mode on for the call (``jax.enable_x64(True)``),
    whatever the global setting, so a computation that is float64 by contract (a theory's
    saddle point, a batched fit) gives the same numbers in a float32 session. The previous mode
    is restored on return."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import jax

        with jax.enable_x64(True):
            return fn(*args, **kwargs)
    return wrapper
