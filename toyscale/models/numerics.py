"""Numerics that several models share: fixed-order sums, recorded-step masks and statistics of
the end of a training window.

Each model file keeps only its model; what two models compute the same way lives here, once,
with its definition and its tests (tests/test_numerics.py).
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def tree_sum(v: jax.Array, axis: int = -1) -> jax.Array:
    """Sum along ``axis`` in a fixed order: zero-pad to the next power of two, then repeatedly
    add the second half to the first (a pairwise tree of elementwise adds).

    ``tree_sum(v) = sum_i v_i`` up to round-off, with the rounding of the pairwise tree
    ``((v_0 + v_{n/2}) + ...)``. Why not ``jnp.sum``: XLA picks a reduction order from the array's
    shape, so the same network summed in a vmapped batch of 3 or of 16, or in a bucket of 5 or 8
    neurons, differs in the last bit; L-BFGS amplifies that to O(1) within a few hundred
    iterations (measured, docs/theory.md §3, the lottery-ticket model of Liu & Tegmark 2023).
    Elementwise adds do not depend on the batch, and trailing zeros (padded neurons) only ever
    meet ``x + 0 = x``, so this sum is bitwise the same for any batch and any zero padding.
    """
    v = jnp.moveaxis(v, axis, -1)
    n = v.shape[-1]
    size = 1 << max(0, (n - 1).bit_length())
    if size != n:
        v = jnp.concatenate([v, jnp.zeros(v.shape[:-1] + (size - n,), v.dtype)], axis=-1)
    while v.shape[-1] > 1:
        h = v.shape[-1] // 2
        v = v[..., :h] + v[..., h:]
    return v[..., 0]


def record_mask(record: Sequence[int], length: int) -> np.ndarray:
    """``(length + 1,)`` booleans, True at each recorded step of ``record`` (steps ``0..length``).

    A training scan indexes it with its step counter (unbatched under the engine's ``vmap``) to
    compute diagnostics under a ``lax.cond`` at recorded steps only.
    """
    rec = np.zeros(int(length) + 1, bool)
    rec[np.asarray(record, int)] = True
    return rec


def window(s: int, fraction: float, start: int = 0) -> int:
    """Length ``k = max(1, ceil(fraction (s - start)))`` of the window that ends at step ``s``:
    the last ``fraction`` of the steps since ``start`` (static integers)."""
    return max(1, int(math.ceil(fraction * (s - start))))


def end_window_stats(losses: jax.Array, record: Sequence[int], fraction: float) -> dict:
    """Statistics of a per-step loss curve over the last ``fraction`` of the first ``s`` steps,
    for each recorded ``s`` (the curve's entry ``t`` is the loss of step ``t + 1``).

    With ``k =`` :func:`window` ``(s, fraction)``: ``last`` = mean of ``losses[s - k:s]``;
    ``prev`` = mean of the window before it, ``losses[s - 2k:s - k]`` (``last`` when ``s < 2k``);
    ``sem`` = the standard error of ``last`` relative to it, ``std(window) / sqrt(k) / last``;
    ``bad`` = some loss among the first ``s`` is not finite. Each of shape ``(len(record),)``.

    Means of static slices, not differences of cumulative sums: in float32 a difference of
    running sums loses the digits a drift of 1e-3 or a standard error needs (the superposition
    model of Liu, Liu & Gore 2025 reads its convergence from ``(prev - last) / last``).
    """
    lasts, prevs, sems, bads = [], [], [], []
    for s_ in record:
        s_ = int(s_)
        k = window(s_, fraction)
        win = losses[s_ - k:s_]
        last = jnp.mean(win)
        lasts.append(last)
        prevs.append(jnp.mean(losses[s_ - 2 * k:s_ - k]) if s_ >= 2 * k else last)
        sems.append(jnp.std(win) / math.sqrt(k) / last)
        bads.append(~jnp.all(jnp.isfinite(losses[:s_])))
    return {"last": jnp.stack(lasts), "prev": jnp.stack(prevs), "sem": jnp.stack(sems), "bad": jnp.stack(bads)}
