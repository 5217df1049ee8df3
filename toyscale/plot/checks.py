"""Figures of checks, drawn from the stored result (``summary.json`` entry): never refitted."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from toyscale.analysis.slicing import select, slice_label
from toyscale.plot.style import colorbar_for, figure, log_axes
from toyscale.protocol import OK


def _title(entry: Mapping) -> str:
    return f"{entry['name']}: {entry['regime']}\n{entry.get('slice') or 'whole sweep'}"


def check_figure(entry: Mapping):
    """Figure of one check: data (mean ± s.e.m. over seeds, or median and quartiles when the
    check fits the median), fitted law with its interval, theory slope, alternatives and theory
    curve. ``entry``: a :class:`~toyscale.analysis.checks.CheckResult` or its JSON entry."""
    entry = entry.to_json() if hasattr(entry, "to_json") else entry
    metric, axis = entry["metric"], entry["axis"]
    median = entry.get("statistic") == "median"
    pts = entry.get("points") or {"x": []}
    fig, (ax,) = figure()
    if not pts["x"]:  # nothing positive to draw on log axes (e.g. an excess that is exactly 0)
        why = (f"no positive finite {metric} values in this slice" if "points" in entry else
               "this summary.json predates stored points: regenerate it with `toyscale report DIR`")
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.set_title(_title(entry), fontsize=8)
        return fig
    xs, c = np.asarray(pts["x"], float), np.asarray(pts["center"], float)
    err = np.array([pts["err_low"], pts["err_high"]], float)
    infit = np.asarray(pts["fitted"], bool) if entry.get("fitted") is not None else np.ones(len(xs), bool)
    ax.errorbar(xs[infit], c[infit], yerr=err[:, infit], fmt="o", color="C0", ms=4, capsize=2,
                label=f"{metric} ({'median, quartiles' if median else 'mean ± s.e.m.'}, {entry['n_seeds']} seeds)")
    if (~infit).any():
        ax.errorbar(xs[~infit], c[~infit], yerr=err[:, ~infit], fmt="o", mfc="none", color="C0", ms=4, capsize=2,
                    alpha=0.6, label="not fitted")
    if entry.get("fitted") is not None:
        slope, p = entry["fitted"], entry.get("fit_params") or {}
        E, A = p.get("E", 0.0) or 0.0, p["A"]
        xf = np.geomspace(*entry["fit_range"], 100)
        ci = "" if entry.get("ci_low") is None else f" [{entry['ci_low']:+.3f}, {entry['ci_high']:+.3f}]"
        ax.plot(xf, E + A * xf ** slope, "-", color="C1", label=f"fit: slope {slope:+.3f}{ci}")
        # theory slopes drawn through the fit at the middle of the fit range (offset E kept)
        xm = math.sqrt(xf[0] * xf[-1])
        ym = A * xm ** slope
        th = entry.get("theory")
        lines = [("theory", th, "--", "k")] if th is not None else []
        lines += [(a["label"], a["slope"], (0, (1 + 2 * k, 2)), "0.35")
                  for k, a in enumerate(entry.get("alternatives", [])) if a["slope"] != th]
        for lab, sl, ls, col in lines:
            ax.plot(xf, ym * (xf / xm) ** sl + E, ls=ls, color=col, lw=1, label=f"{lab}: slope {sl:+.3f}")
    if pts.get("theory_curve") is not None:
        e, em = entry.get("curve_rel_error"), entry.get("curve_rel_error_median")
        yc = np.array([np.nan if y is None else y for y in pts["theory_curve"]], float)
        ax.plot(xs, yc, ":", color="C2", marker=".", ms=3,
                label="theory curve" + (f" (rel. err median {em:.1%}, max {e:.1%})" if e is not None else ""))
    log_axes(ax, axis, metric, xvalues=xs)
    ax.set_title(_title(entry), fontsize=8)
    ax.legend(fontsize=7)
    return fig


def curves_figure(entry: Mapping, df, time_axis: str):
    """Training curves of a check's slice along the time axis, from the stored rows ``df``: one
    line per (axis value, seed), colour = the check's axis value (colorbar); rows with a flagged
    status (e.g. unconverged) marked x. ``None`` when the slice has no such rows."""
    from matplotlib import colormaps

    entry = entry.to_json() if hasattr(entry, "to_json") else entry
    metric, axis = entry["metric"], entry["axis"]
    where = {k: v for k, v in entry["where"].items() if k != time_axis}
    data = select(df, where)
    data = data[data["status"].isin(entry["statuses_fitted"])]
    if data.empty or metric not in data:
        return None
    vals = sorted(set(float(v) for v in select(df, entry["where"])[axis]))
    fin = [v for v in vals if math.isfinite(v)]
    cmap = colormaps["viridis"]
    fig, (ax,) = figure()
    lo, hi = (min(fin), max(fin)) if fin else (0.0, 1.0)
    norm = colorbar_for(fig, ax, cmap, lo, hi, axis, log=lo > 0)
    n_flag = 0
    for (x, _seed), run in data.groupby([data[axis].astype(float), "seed"]):
        run = run.sort_values(time_axis)
        col = cmap(norm(x)) if x in fin else "grey"
        ax.plot(run[time_axis].astype(float), run[metric].astype(float), "-", color=col, lw=0.8, alpha=0.8)
        bad = run[run["status"] != OK.name]
        n_flag += len(bad)
        ax.plot(bad[time_axis].astype(float), bad[metric].astype(float), "x", color=col, ms=3)
    log_axes(ax, time_axis, metric)
    ax.set_title(f"{entry['name']}: {metric} vs {time_axis}; colour = {axis}\n"
                 f"{slice_label(where) or 'whole sweep'}; x = flagged ({n_flag} points)", fontsize=8)
    return fig
