"""Phase-diagram figures, drawn from the stored result (``phases.json`` entry)."""

from __future__ import annotations

import numpy as np

from toyscale.analysis.phases import PHASE_MAPS
from toyscale.analysis.slicing import format_value, slice_label
from toyscale.plot.style import figure


def _tick(v) -> str:
    """Tick label of a swept value (stored ``null`` is an infinite value)."""
    if v is None:
        return "inf"
    return v if isinstance(v, str) else format_value(float(f"{v:.2g}"))


def phase_figure(ph, panels=None):
    """Heatmaps: fitted exponent, theory exponent (where theory gives one), shown metrics.

    ``panels``: list of ``(map name, title, cmap, (vmin, vmax) or None)``; default: fitted,
    theory (if any cell has one) and every ``show`` metric. Cells with a flagged run are marked *.
    ``ph``: a :class:`~toyscale.analysis.phases.PhaseResult` or its JSON entry.
    """
    ph = ph.to_json() if hasattr(ph, "to_json") else ph
    maps = {k: np.asarray(v, float) for k, v in ph["maps"].items()}
    fin = [k for k in ("fitted", "theory") if np.isfinite(maps[k]).any()]
    lims = (min(np.nanmin(maps[k]) for k in fin), max(np.nanmax(maps[k]) for k in fin)) if fin else None
    if panels is None:
        panels = [("fitted", f"fitted slope along {ph['axis']}", "viridis", lims)]
        if np.isfinite(maps["theory"]).any():
            panels.append(("theory", "theory slope", "viridis", lims))
        panels += [(k, k, "magma", None) for k in maps if k not in PHASE_MAPS]
    fig, axes = figure(len(panels), size=(4.4, 3.9))
    (o1, o2), (v1s, v2s) = ph["over"], ph["values"]
    for ax, (k, title, cmap, lim) in zip(axes, panels):
        m = np.asarray(maps[k], float)
        kw = dict(vmin=lim[0], vmax=lim[1]) if lim else {}
        im = ax.imshow(m.T, origin="lower", aspect="auto", cmap=cmap, **kw)
        ax.set_xticks(range(len(v1s)), [_tick(v) for v in v1s], fontsize=7, rotation=45)
        ax.set_yticks(range(len(v2s)), [_tick(v) for v in v2s], fontsize=7)
        ax.set_xlabel(o1)
        ax.set_ylabel(o2)
        ax.set_title(title, fontsize=9)
        if m.size <= 200:
            mid = np.nanmean(m) if np.isfinite(m).any() else 0.0
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    if np.isfinite(m[i, j]):
                        star = "*" if k == "fitted" and np.asarray(maps["n_flagged"])[i, j] > 0 else ""
                        ax.text(i, j, f"{m[i, j]:.2f}{star}", ha="center", va="center", fontsize=5,
                                color="w" if m[i, j] < mid else "k")
        fig.colorbar(im, ax=ax, shrink=0.85)
    where = slice_label(ph.get("where", {}))
    fig.suptitle(f"{ph['name']}: slope along {ph['axis']} over {o1} x {o2}" + (f" at {where}" if where else "")
                 + "; * = cell with flagged runs", fontsize=9)
    return fig
