"""Numerics several models share. The protocol itself lives in :mod:`toyscale.protocol`
(re-exported here so model modules keep one import line)."""

from __future__ import annotations

import contextlib

from toyscale.protocol import (BUILTIN_STATUSES, DIVERGED, NONFINITE, OK, TIME_AXIS, Metric, Model,  # noqa: F401
                               Status, device_program, exact_bucket, next_pow2, pow2_bucket)
from toyscale.theory.base import Frontier, Overlay, Prediction, Slice, Theory  # noqa: F401


#: The dtype random numbers are drawn in, when not the compute dtype (see :func:`draws_in`).
_DRAW_DTYPE: list = [None]


def draw_precision() -> str | None:
    """The precision random numbers are drawn in (``None``: the compute dtype of each draw)."""
    return _DRAW_DTYPE[0]


@contextlib.contextmanager
def draws_in(precision: str | None):
    """Draw every random number of the models in ``precision`` ("float32" or "float64") and cast
    it to the compute dtype, for programs traced inside the block.

    JAX draws a float32 normal from 32 random bits and a float64 one from 64: the same key gives
    unrelated numbers in the two precisions. The precision audit re-evaluates a float32 run's
    cells in float64 on the float32 draws (``draws_in("float32")``), so that both evaluations
    solve the same random problem and differ only by their arithmetic. Outside the block each
    draw is made in its compute dtype, as always (stored rows do not change)."""
    prev = _DRAW_DTYPE[0]
    _DRAW_DTYPE[0] = precision
    try:
        yield
    finally:
        _DRAW_DTYPE[0] = prev


def _draw_dtype(dtype):
    import jax.numpy as jnp

    dtype = dtype or jnp.result_type(float)
    return dtype, (jnp.dtype(_DRAW_DTYPE[0]) if _DRAW_DTYPE[0] else dtype)


def normal(key, shape: tuple = (), dtype=None):
    """``jax.random.normal(key, shape)`` in the draw precision (:func:`draws_in`), cast to ``dtype``."""
    import jax

    dtype, d = _draw_dtype(dtype)
    return jax.random.normal(key, shape, d).astype(dtype)


def uniform(key, shape: tuple = (), dtype=None):
    """``jax.random.uniform(key, shape)`` on [0, 1) in the draw precision (:func:`draws_in`), cast to ``dtype``."""
    import jax

    dtype, d = _draw_dtype(dtype)
    return jax.random.uniform(key, shape, d).astype(dtype)


def indexed_normal(key, count: int, shape: tuple = (), dtype=None):
    """``(count, *shape)`` standard normals whose entry ``i`` depends only on ``fold_in(key, i)``.

    The way a model draws "the first N features" or "the first P samples" so that a row's
    values do not depend on the largest size in its sweep: sample ``i`` is the same array
    whether 10 or 10 000 samples are drawn (one ``jax.random.normal(key, (count, ...))`` call
    would change every entry with ``count``). Drawn in the draw precision (:func:`draws_in`).
    """
    import jax
    import jax.numpy as jnp

    return jax.vmap(lambda i: normal(jax.random.fold_in(key, i), shape, dtype))(jnp.arange(count))
