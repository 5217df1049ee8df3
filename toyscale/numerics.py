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


def bisect(fun, lo, hi, steps: int, increasing: bool = True):
    """Root of a monotone scalar ``fun`` on ``[lo, hi]`` by ``steps`` fixed bisection steps
    (jittable and vmappable: no data-dependent loop; float64 inputs give a float64 root).

    After ``steps`` halvings the bracket has width ``(hi - lo) 2^-steps`` and the midpoint is
    returned; ``increasing`` says on which side of a positive value the root lies. A ``fun``
    without a sign change returns the end nearer to where its sign would change."""
    import jax
    import jax.numpy as jnp

    def body(_, bracket):
        a, b = bracket
        mid = 0.5 * (a + b)
        right = (fun(mid) > 0) != increasing  # the root lies right of mid
        return jnp.where(right, mid, a), jnp.where(right, b, mid)

    a, b = jax.lax.fori_loop(0, steps, body, (jnp.asarray(lo), jnp.asarray(hi)))
    return 0.5 * (a + b)
