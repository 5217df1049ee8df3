"""Phase diagrams: a check's slope fitted in every cell of a two-parameter grid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from toyscale.analysis.checks import evaluate_check
from toyscale.analysis.slicing import format_value, same_value, select
from toyscale.jsonio import clean

#: Maps every phase diagram carries (besides its ``show`` metrics).
PHASE_MAPS = ("fitted", "ci_low", "ci_high", "theory", "n_flagged")


@dataclass(frozen=True)
class PhaseResult:
    """A phase diagram: ``name``, ``axis``, ``over`` (two parameters), ``values`` (their swept
    values), ``where``, ``cells`` (each a check's JSON entry plus the cell's two coordinates)
    and ``maps`` (``{name: (len(v1), len(v2)) array}``: fitted, ci_low, ci_high, theory
    (NaN where the theory gives no slope), n_flagged, and every ``show`` metric)."""

    name: str
    axis: str
    over: tuple[str, str]
    values: tuple[list, list]
    where: Mapping[str, Any]
    cells: tuple[dict, ...]
    maps: Mapping[str, np.ndarray]

    def to_json(self) -> dict:
        """The ``phases.json`` entry."""
        return clean({"name": self.name, "axis": self.axis, "over": list(self.over), "values": list(self.values),
                      "where": dict(self.where), "cells": list(self.cells),
                      "maps": {k: np.asarray(v).tolist() for k, v in self.maps.items()}})


def evaluate_phase(df, model, fixed: Mapping, phase: Mapping, n_boot: int = 200) -> PhaseResult:
    """Fit ``phase['axis']`` in every cell of the ``phase['over']`` grid (a phase diagram).

    Every cell is fitted (:func:`~toyscale.analysis.checks.evaluate_check`), also where the
    theory predicts no exponent: the fitted map is the measured phase diagram, the theory map
    says where theory has something to compare. ``show`` metrics are mapped as their seed-mean
    at the largest fitted axis value.
    """
    o1, o2 = phase["over"]
    sel0 = select(df, dict(phase["where"]))

    def values(col):
        vs = set(sel0[col])
        return sorted(vs, key=float) if sel0[col].dtype != object else sorted(vs)

    v1s, v2s = values(o1), values(o2)
    names = list(PHASE_MAPS) + list(phase.get("show", []))
    maps = {k: np.full((len(v1s), len(v2s)), np.nan) for k in names}
    cells = []
    for i, a in enumerate(v1s):
        for j, b in enumerate(v2s):
            where = {**phase["where"], o1: a, o2: b}
            check = dict(phase, name=f"{phase['name']}[{o1}={format_value(a)},{o2}={format_value(b)}]", where=where)
            e = evaluate_check(sel0, model, fixed, check, n_boot=n_boot).to_json()
            for k in PHASE_MAPS:
                maps[k][i, j] = np.nan if e.get(k) is None else e[k]
            sel = select(sel0, {o1: a, o2: b})
            ok = sel[sel["status"].isin(e["statuses_fitted"])]
            if len(ok):
                xmax = (e.get("fit_range") or [None, ok[phase["axis"]].astype(float).max()])[1]
                at = ok[same_value(ok[phase["axis"]], xmax)]
                for k in phase.get("show", []):
                    maps[k][i, j] = at[k].astype(float).mean()
            e.pop("points", None)  # per-cell drawable data: the maps are what a phase figure draws
            e[o1], e[o2] = a, b
            cells.append(e)
    return PhaseResult(name=phase["name"], axis=phase["axis"], over=(o1, o2), values=(v1s, v2s),
                       where=dict(phase["where"]), cells=tuple(cells), maps=maps)
