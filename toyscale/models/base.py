"""Numerics several models share. The protocol itself lives in :mod:`toyscale.protocol`
(re-exported here so model modules keep one import line)."""

from __future__ import annotations

from toyscale.protocol import (BUILTIN_STATUSES, DIVERGED, NONFINITE, OK, TIME_AXIS, Metric, Model,  # noqa: F401
                               Status, device_program, exact_bucket, next_pow2, pow2_bucket)
from toyscale.theory.base import Frontier, Overlay, Prediction, Slice, Theory  # noqa: F401


def indexed_normal(key, count: int, shape: tuple = (), dtype=None):
    """``(count, *shape)`` standard normals whose entry ``i`` depends only on ``fold_in(key, i)``.

    The way a model draws "the first N features" or "the first P samples" so that a row's
    values do not depend on the largest size in its sweep: sample ``i`` is the same array
    whether 10 or 10 000 samples are drawn (one ``jax.random.normal(key, (count, ...))`` call
    would change every entry with ``count``).
    """
    import jax
    import jax.numpy as jnp

    dtype = dtype or jnp.result_type(float)
    return jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), shape, dtype))(jnp.arange(count))
