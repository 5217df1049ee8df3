"""Slicing stored rows and the seed statistics of a slice: written once, used by checks, phase
diagrams and frontiers."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from toyscale.jsonio import decode
from toyscale.theory.base import Slice


def format_value(v: Any) -> str:
    """``1``, ``0.25``, ``inf`` or the string itself: how a parameter value is printed."""
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def slice_label(where: Mapping, fixed: Mapping | None = None, keys=()) -> str:
    """``alpha=1, beta=0.25, samples=inf``: the slice a figure shows (``where`` plus ``keys`` of ``fixed``)."""
    items = {k: fixed[k] for k in keys if fixed and k in fixed}
    items.update({k: decode(v) for k, v in where.items()})
    return ", ".join(f"{k}={format_value(v)}" for k, v in items.items())


def same_value(col, v) -> np.ndarray:
    """Rows of a numeric column equal to ``v`` up to float rounding of stored values: relative
    tolerance 1e-9 and **no** absolute tolerance (``np.isclose``'s default ``atol = 1e-8`` would
    make 1e-8 equal to 0, merging e.g. two weight decays into one slice)."""
    return np.isclose(np.asarray(col, float), float(v), rtol=1e-9, atol=0.0)


def select(df, where: Mapping):
    """The rows of ``df`` in the slice ``where`` (``{column: value}``; ``"inf"`` means infinity)."""
    sel = df
    for k, v in where.items():
        v = decode(v)
        sel = sel[sel[k] == v] if isinstance(v, str) else sel[same_value(sel[k], v)]
    return sel


def slice_stats(sel, model, axis: str, xs, accepted) -> dict:
    """Seed-mean of every scalar metric at each axis value (accepted rows only)."""
    ok = sel[sel["status"].isin(accepted)]
    out = {}
    for m in model.metrics:
        if m.name in ok and (len(ok) == 0 or np.ndim(ok[m.name].iloc[0]) == 0):
            g = ok.groupby(ok[axis].astype(float))[m.name].apply(
                lambda s: np.nanmean(s.to_numpy(float)) if s.notna().any() else np.nan)
            out[m.name] = np.array([g.get(float(x), np.nan) for x in xs])
    return out


def theory_params(fixed: Mapping, where: Mapping, axis: str) -> dict:
    """Every parameter's value in a slice (the experiment's fixed values, then ``where``), without ``axis``."""
    return {k: v for k, v in {**fixed, **{k: decode(v) for k, v in where.items()}}.items() if k != axis}


def theory_slice(fixed: Mapping, where: Mapping, axis: str, xs=(), stats=None, metric=None, fit_range=None) -> Slice:
    """The :class:`~toyscale.theory.base.Slice` a theory is asked about."""
    return Slice(params=theory_params(fixed, where, axis), axis=axis, xs=tuple(xs), stats=dict(stats or {}),
                 metric=metric, fit_range=tuple(fit_range) if fit_range else None)
