"""Theory-vs-fit report from stored results: summary.json, report.md, one figure per check.

Fit-range rule (documented in the README): a check fits the swept values of its axis that lie
in ``fit_range`` if the experiment gives one, else in the theory's validity interval
(``Prediction.valid``: before finite-size plateaus). Rows are fitted when their status is one
the check accepts (default: the model's *usable* statuses -- ``ok`` and e.g. ``unconverged``,
whose metrics are valid measurements at their budget); an axis value where some seed has no
accepted row is dropped and counted. At least 3 values are needed for a fit. Rows with a usable
status other than ``ok`` are counted per check (``n_flagged``) and drawn dashed in the curves.

Figures are drawn with matplotlib's object API (``matplotlib.figure.Figure``): no pyplot, no
backend switch, so a notebook's backend is left alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toyscale.errors import UserError
from toyscale.fit import fit_scaling, goodness_of_fit, heldout_error, range_sensitivity
from toyscale.fit._basic import seed_center
from toyscale.models import get_model
from toyscale.store import ResultStore, _atomic_write_bytes


def _unjson(v):
    return math.inf if v == "inf" else v


def _fmt(x, nd=3):
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:+.{nd}f}"


def _g(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def slice_label(where: dict, fixed: dict | None = None, keys=()) -> str:
    """``alpha=1, beta=0.25, samples=inf``: the slice a figure shows (``where`` plus ``keys`` of ``fixed``)."""
    items = {k: fixed[k] for k in keys if fixed and k in fixed}
    items.update({k: _unjson(v) for k, v in where.items()})
    return ", ".join(f"{k}={_g(v)}" for k, v in items.items())


def same_value(col, v) -> np.ndarray:
    """Rows of a numeric column equal to ``v`` up to float rounding of stored values: relative
    tolerance 1e-9 and **no** absolute tolerance (``np.isclose``'s default ``atol = 1e-8`` would
    make 1e-8 equal to 0, merging e.g. two weight decays into one slice)."""
    return np.isclose(np.asarray(col, float), float(v), rtol=1e-9, atol=0.0)


def _select(df, where: dict):
    sel = df
    for k, v in where.items():
        v = _unjson(v)
        sel = sel[sel[k] == v] if isinstance(v, str) else sel[same_value(sel[k], v)]
    return sel


def slice_stats(sel, model, axis: str, xs, accepted) -> dict:
    """Seed-mean of every scalar metric at each axis value (accepted rows only)."""
    ok = sel[sel["status"].isin(accepted)]
    out = {}
    for m in model.metrics:
        if m.name in ok and (len(ok) == 0 or np.ndim(ok[m.name].iloc[0]) == 0):
            g = ok.groupby(ok[axis].astype(float))[m.name].apply(lambda s: np.nanmean(s.to_numpy(float)) if s.notna().any() else np.nan)
            out[m.name] = np.array([g.get(float(x), np.nan) for x in xs])
    return out


def _theory_params(model, fixed, where, axis):
    return {k: v for k, v in {**fixed, **{k: _unjson(v) for k, v in where.items()}}.items() if k != axis}


def evaluate_check(df, model, fixed: dict, check: dict, n_boot: int = 1000) -> dict:
    """Fit one check on the rows of ``df`` and compare with the model's theory.

    Where the theory predicts no exponent (``pred.slope is None``) the data are shown unfitted,
    unless ``check["fit_always"]`` (phase-diagram cells): then the slope is fitted over the
    theory's validity interval (or ``fit_range``) and ``agrees`` is ``None``. A theory curve
    (``Prediction.curve``) is scored: ``curve_rel_error`` is the largest relative deviation
    of the curve from the measured seed-mean over the fitted axis values
    (``curve_rel_error_median`` the median).
    """
    axis, where = check["axis"], check["where"]
    sel = _select(df, where)
    accepted = tuple(check.get("statuses") or model.usable_statuses())
    params = _theory_params(model, fixed, where, axis)
    if check.get("metric"):
        params["_metric"] = check["metric"]  # theories that predict several metrics read this
    if check.get("fit_range"):
        params["_fit_range"] = tuple(check["fit_range"])  # theories whose regime depends on the window read this
    xs_all = sorted(set(float(x) for x in sel[axis]))
    pred = model.theory.predict(axis, params, xs_all, stats=slice_stats(sel, model, axis, xs_all, accepted))
    metric = check.get("metric") or pred.metric
    law = pred.law
    lo, hi = check.get("fit_range") or pred.valid
    entry = {"name": check["name"], "model": model.name, "axis": axis, "regime": pred.regime,
             "theory": pred.slope, "metric": metric, "law": law, "where": check["where"],
             "slice": slice_label(where), "theory_note": pred.note, "tolerance": check.get("tolerance", 0.1),
             "statuses_fitted": list(accepted), "statistic": check.get("statistic", "mean")}
    center = lambda Y: seed_center(Y, entry["statistic"])  # noqa: E731  (the curve that is fitted)
    if pred.alternatives:  # recorded even when no fit is possible; scored below when one is
        entry["alternatives"] = [{"label": lab, "slope": float(sl), "agrees": None, "in_ci": None}
                                 for lab, sl in pred.alternatives.items()]
    seeds = sorted(set(sel["seed"]))
    xs, Ys, dropped = [], [], []
    for x in xs_all:
        if not (lo <= x <= hi) or not math.isfinite(x):
            continue
        rows = sel[same_value(sel[axis], x)]
        ok = rows["status"].isin(accepted).all() and len(rows) == len(seeds)
        vals = rows.set_index("seed")[metric].reindex(seeds).to_numpy(float)
        if not ok or not np.all(vals > 0):
            dropped.append(x)
            continue
        xs.append(x)
        Ys.append(vals)
    counts = sel["status"].value_counts().to_dict()
    flagged = sel[sel["status"].isin([s for s in accepted if s != "ok"])]
    entry.update(n_runs=int(len(sel)), status_counts={k: int(v) for k, v in counts.items()},
                 n_flagged=int(len(flagged)),
                 flagged_runs=[{axis: _unjson(r[axis]), "seed": int(r["seed"]), "status": r["status"]}
                               for _, r in flagged.iterrows()][:50])
    entry["_sel"] = sel  # private (not written): the slice, for figures and phase maps
    entry.update(n_points=len(xs), n_seeds=len(seeds), dropped=dropped,
                 fit_range=[min(xs), max(xs)] if xs else None,
                 fit_range_rule="check.fit_range" if check.get("fit_range") else "theory validity interval")
    if pred.curve is not None and xs:
        ymean = center(np.array(Ys))
        rel = np.abs(np.asarray(pred.curve(np.array(xs)), float) - ymean) / ymean
        entry.update(curve_rel_error=float(np.max(rel)), curve_rel_error_median=float(np.median(rel)))
    if pred.slope is None and not check.get("fit_always"):
        entry.update(fitted=None, ci_low=None, ci_high=None, agrees=None,
                     reason="theory predicts no exponent in this regime; data shown, no fit")
        entry["_plot"] = (sel, xs_all, metric, None, pred, (lo, hi))
        return entry
    if len(xs) < 3:
        entry.update(fitted=None, ci_low=None, ci_high=None, agrees=None,
                     reason=f"only {len(xs)} usable axis values in [{lo:g}, {hi:g}] (dropped: {dropped})")
        entry["_plot"] = (sel, xs_all, metric, None, pred, (lo, hi))
        return entry
    fit = fit_scaling(np.array(xs), np.array(Ys), law=law, n_boot=n_boot if law == "power" else min(n_boot, 200),
                      statistic=entry["statistic"])
    entry.update(fitted=fit.slope, ci_low=fit.ci_low, ci_high=fit.ci_high, fit_params=fit.params,
                 ci_level=fit.level, bootstrap=fit.resampled)
    ymean = center(np.array(Ys))
    entry.update(heldout_error(xs, ymean, law=law, n_holdout=1))
    entry.update(goodness_of_fit(ymean, fit.predict(np.array(xs))))
    entry.update(range_sensitivity(xs, ymean, law=law, threshold=entry["tolerance"]))
    if pred.slope is None:
        entry["agrees"] = None
    else:
        entry["agrees"] = bool(abs(fit.slope - pred.slope) <= entry["tolerance"])
        entry["theory_in_ci"] = bool(fit.ci_low <= pred.slope <= fit.ci_high)
    if pred.alternatives:  # competing predictions: which one(s) the fit agrees with, or none
        for a in entry["alternatives"]:
            a.update(agrees=bool(abs(fit.slope - a["slope"]) <= entry["tolerance"]),
                     in_ci=bool(fit.ci_low <= a["slope"] <= fit.ci_high))
        entry["agrees_with"] = [a["label"] for a in entry["alternatives"] if a["agrees"]] or ["none"]
    entry["_plot"] = (sel, xs_all, metric, fit, pred, (lo, hi))
    return entry


def _figure(ncols=1, size=(5.2, 4.0)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1]), dpi=110)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _log_axes(ax, xlabel, ylabel):
    """Log-log axes; minor tick labels off (they overlap on axes spanning less than a decade)."""
    from matplotlib.ticker import LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for a in (ax.xaxis, ax.yaxis):
        a.set_minor_formatter(NullFormatter())
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def check_figure(entry: dict):
    """Figure of one check: data (mean ± s.e.m. over seeds, or median and quartiles when the
    check fits the median), fitted law, theory slope and curve."""
    sel, xs_all, metric, fit, pred, (lo, hi) = entry["_plot"]
    axis = entry["axis"]
    median = entry.get("statistic") == "median"
    fig, (ax,) = _figure()
    xs, mean, sd = [], [], []
    for x in xs_all:
        if not math.isfinite(x):
            continue
        v = sel[same_value(sel[axis], x)][metric].to_numpy(float)
        v = v[np.isfinite(v)]
        c = np.median(v) if median and len(v) else (np.mean(v) if len(v) else 0.0)
        if len(v) and c > 0:
            xs.append(x), mean.append(c)
            sd.append(np.array([c - np.quantile(v, 0.25), np.quantile(v, 0.75) - c]) if median
                      else np.std(v) / math.sqrt(len(v)))
    xs, mean, sd = map(np.asarray, (xs, mean, sd))
    if median and len(xs):
        sd = sd.T  # (2, n): asymmetric error bars, the interquartile range
    if not len(xs):  # nothing positive to draw on log axes (e.g. an excess that is exactly 0)
        ax.text(0.5, 0.5, f"no positive finite {metric} values in this slice", ha="center", va="center",
                transform=ax.transAxes, fontsize=8)
        ax.set_title(f"{entry['name']}: {entry['regime']}\n{entry['slice'] or 'whole sweep'}", fontsize=8)
        return fig
    fr = entry["fit_range"] or (lo, hi)
    infit = (xs >= fr[0]) & (xs <= fr[1]) if fit is not None else np.ones(len(xs), bool)
    pick = (lambda m: sd[:, m]) if median else (lambda m: sd[m])
    ax.errorbar(xs[infit], mean[infit], yerr=pick(infit), fmt="o", color="C0", ms=4, capsize=2,
                label=f"{metric} ({'median, quartiles' if median else 'mean ± s.e.m.'}, {entry['n_seeds']} seeds)")
    if (~infit).any():
        ax.errorbar(xs[~infit], mean[~infit], yerr=pick(~infit), fmt="o", mfc="none", color="C0", ms=4, capsize=2,
                    alpha=0.6, label="not fitted")
    if fit is not None:
        xf = np.geomspace(*entry["fit_range"], 100)
        ax.plot(xf, fit.predict(xf), "-", color="C1", label=f"fit: slope {fit.slope:+.3f} [{fit.ci_low:+.3f}, {fit.ci_high:+.3f}]")
        # theory slopes drawn through the fit at the middle of the fit range (offset E kept)
        xm, E = math.sqrt(xf[0] * xf[-1]), fit.params.get("E", 0.0)
        ym = float(fit.predict(xm)) - E
        lines = [("theory", pred.slope, "--", "k")] if pred.slope is not None else []
        lines += [(lab, sl, (0, (1 + 2 * k, 2)), "0.35") for k, (lab, sl) in enumerate(pred.alternatives.items())
                  if sl != pred.slope]
        for lab, sl, ls, col in lines:
            ax.plot(xf, ym * (xf / xm) ** sl + E, ls=ls, color=col, lw=1, label=f"{lab}: slope {sl:+.3f}")
    if pred.curve is not None and len(xs):
        err = entry.get("curve_rel_error")
        ax.plot(xs, pred.curve(xs), ":", color="C2",
                label="theory curve" + (f" (max rel. err {err:.1%})" if err is not None else ""))
    _log_axes(ax, axis, metric)
    ax.set_title(f"{entry['name']}: {entry['regime']}\n{entry['slice'] or 'whole sweep'}", fontsize=8)
    ax.legend(fontsize=7)
    return fig


def curves_figure(entry: dict, time_axis: str):
    """Training curves of a check's slice along the time axis: one line per (axis value, seed),
    colour = the check's axis value; rows with a flagged status (e.g. unconverged) marked x."""
    from matplotlib import colormaps

    sel = entry["_sel"]
    metric, axis = entry["metric"], entry["axis"]
    where = {k: v for k, v in entry["where"].items() if k != time_axis}
    data = _select(entry["_all"], where)
    data = data[data["status"].isin(entry["statuses_fitted"])]
    if data.empty or metric not in data:
        return None
    vals = sorted(set(float(v) for v in sel[axis]))
    cmap = colormaps["viridis"]
    fig, (ax,) = _figure()
    n_flag = 0
    for (x, seed), run in data.groupby([data[axis].astype(float), "seed"]):
        run = run.sort_values(time_axis)
        c = cmap(vals.index(x) / max(1, len(vals) - 1)) if x in vals else "grey"
        ax.plot(run[time_axis].astype(float), run[metric].astype(float), "-", color=c, lw=0.8, alpha=0.8)
        bad = run[run["status"] != "ok"]
        n_flag += len(bad)
        ax.plot(bad[time_axis].astype(float), bad[metric].astype(float), "x", color=c, ms=3)
    _log_axes(ax, time_axis, metric)
    ax.set_title(f"{entry['name']}: {metric} vs {time_axis}; colour = {axis} {vals[0]:g}..{vals[-1]:g}\n"
                 f"{slice_label(where) or 'whole sweep'}; x = flagged ({n_flag} points)", fontsize=8)
    return fig


def table(entries: list[dict]) -> str:
    """Markdown table: per check, regime, theory slope vs fitted slope with its CI."""
    flag = any(e.get("n_flagged") for e in entries)
    curve = any("curve_rel_error" in e for e in entries)
    head = "| check | slice | regime | axis | theory | fitted [95% CI] | agrees | points | fit range | held-out err | range-sensitive |"
    alts = any(e.get("agrees_with") for e in entries)
    head += (" flagged runs |" if flag else "") + (" curve err |" if curve else "") + (" agrees with |" if alts else "")
    lines = [head, "|" + "---|" * (11 + flag + curve + alts)]
    for e in entries:
        ci = f" [{_fmt(e['ci_low'])}, {_fmt(e['ci_high'])}]" if e.get("fitted") is not None and e.get("ci_low") is not None else ""
        agrees = {True: "yes", False: "NO", None: "—"}[e.get("agrees")]
        fr = "—" if not e.get("fit_range") else f"{e['fit_range'][0]:g}–{e['fit_range'][1]:g}"
        line = (f"| {e['name']} | {e.get('slice') or '—'} | {e['regime']} | {e['axis']} | {_fmt(e['theory'])} | "
                f"{_fmt(e.get('fitted'))}{ci}{' (median)' if e.get('statistic') == 'median' else ''} | {agrees} | {e['n_points']} | {fr} | "
                f"{'—' if e.get('heldout_rel_error') is None else format(e['heldout_rel_error'], '.1%')} | "
                f"{ {True: 'yes', False: 'no', None: '—'}[e.get('range_sensitive')] } |")
        if flag:
            line += f" {e.get('n_flagged', 0)} of {e.get('n_runs', 0)} |"
        if curve:
            line += f" {format(e['curve_rel_error'], '.1%') if 'curve_rel_error' in e else '—'} |"
        if alts:
            line += f" {', '.join(e.get('agrees_with') or ['—'])} |"
        lines.append(line)
    return "\n".join(lines)


def _drop_private(entry: dict) -> dict:
    """Remove the in-memory keys (``_sel``, ``_plot``, ...) that are not written to JSON."""
    for k in [k for k in entry if k.startswith("_")]:
        del entry[k]
    return entry


def evaluate_phase(df, model, fixed: dict, phase: dict, n_boot: int = 200) -> dict:
    """Fit ``phase['axis']`` in every cell of the ``phase['over']`` grid (a phase diagram).

    Returns ``{"name", "axis", "over", "values": [v1s, v2s], "cells": [entry, ...],
    "maps": {"fitted", "ci_low", "ci_high", "theory", "n_flagged", METRIC...}}`` with maps shaped
    (len(v1s), len(v2s)); each cell entry is :func:`evaluate_check`'s. Every cell is fitted, also
    where the theory predicts no exponent (``theory`` is NaN there): the fitted map is the
    measured phase diagram, the theory map says where theory has something to compare.
    ``show`` metrics are mapped as their seed-mean at the largest fitted axis value.
    """
    o1, o2 = phase["over"]
    sel0 = _select(df, {k: v for k, v in phase["where"].items()})

    def values(col):
        vs = set(sel0[col])
        return sorted(vs, key=float) if sel0[col].dtype != object else sorted(vs)

    v1s, v2s = values(o1), values(o2)
    names = ["fitted", "ci_low", "ci_high", "theory", "n_flagged"] + list(phase.get("show", []))
    maps = {k: np.full((len(v1s), len(v2s)), np.nan) for k in names}
    cells = []
    for i, a in enumerate(v1s):
        for j, b in enumerate(v2s):
            check = dict(phase, fit_always=True, name=f"{phase['name']}[{o1}={_g(a)},{o2}={_g(b)}]",
                         where={**phase["where"], o1: a, o2: b})
            e = evaluate_check(sel0, model, fixed, check, n_boot=n_boot)
            sel = e["_sel"]
            _drop_private(e)
            for k in ("fitted", "ci_low", "ci_high", "theory", "n_flagged"):
                maps[k][i, j] = np.nan if e.get(k) is None else e[k]
            ok = sel[sel["status"].isin(e["statuses_fitted"])]
            if len(ok):
                xmax = (e.get("fit_range") or [None, ok[phase["axis"]].astype(float).max()])[1]
                at = ok[same_value(ok[phase["axis"]], xmax)]
                for k in phase.get("show", []):
                    maps[k][i, j] = at[k].astype(float).mean()
            e[o1], e[o2] = a, b
            cells.append(e)
    return {"name": phase["name"], "axis": phase["axis"], "over": [o1, o2], "values": [v1s, v2s],
            "where": phase["where"], "cells": cells, "maps": maps}


def phase_figure(ph: dict, panels=None):
    """Heatmaps: fitted exponent, theory exponent (where theory gives one), shown metrics.

    ``panels``: list of ``(map name, title, cmap, (vmin, vmax) or None)``; default: fitted,
    theory (if any cell has one) and every ``show`` metric. Cells with a flagged run are marked *.
    """
    maps = ph["maps"]
    fin = [k for k in ("fitted", "theory") if np.isfinite(maps[k]).any()]
    lims = (min(np.nanmin(maps[k]) for k in fin), max(np.nanmax(maps[k]) for k in fin)) if fin else None
    if panels is None:
        panels = [("fitted", f"fitted slope along {ph['axis']}", "viridis", lims)]
        if np.isfinite(maps["theory"]).any():
            panels.append(("theory", "theory slope", "viridis", lims))
        panels += [(k, k, "magma", None) for k in maps if k not in ("fitted", "ci_low", "ci_high", "theory", "n_flagged")]
    fig, axes = _figure(len(panels), size=(4.4, 3.9))
    (o1, o2), (v1s, v2s) = ph["over"], ph["values"]
    for ax, (k, title, cmap, lim) in zip(axes, panels):
        m = np.asarray(maps[k], float)
        kw = dict(vmin=lim[0], vmax=lim[1]) if lim else {}
        im = ax.imshow(m.T, origin="lower", aspect="auto", cmap=cmap, **kw)
        ax.set_xticks(range(len(v1s)), [_g(float(f"{v:.2g}")) if not isinstance(v, str) else v for v in v1s], fontsize=7, rotation=45)
        ax.set_yticks(range(len(v2s)), [_g(float(f"{v:.2g}")) if not isinstance(v, str) else v for v in v2s], fontsize=7)
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


def _clean(x):
    """JSON-safe copy: NaN/inf floats become None, numpy scalars become Python numbers."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, (np.integer, np.bool_)):
        return x.item()
    return x


@dataclass
class Report:
    """What :func:`make_report` computed: one entry per check, phase diagram and frontier."""

    checks: list = field(default_factory=list)
    phases: list = field(default_factory=list)
    frontiers: list = field(default_factory=list)
    figures: list = field(default_factory=list)

    def __iter__(self):  # ``checks, phases = make_report(...)`` keeps working
        return iter((self.checks, self.phases))


def make_report(out: str | Path, figures: str | Path | None = None, n_boot: int = 1000) -> Report:
    """Regenerate ``summary.json``, ``report.md``, ``phases.json``, ``frontiers.json`` and the
    figures from the stored results in ``out`` (figures into ``figures`` or ``out/figures``)."""
    from toyscale.frontier import evaluate_frontier, frontier_figure

    store = ResultStore(out)
    meta = store.read_meta()
    model = get_model(meta["experiment"]["model"], field=str(out))
    df = store.load()
    if df.empty:
        raise UserError(str(out), "no stored rows yet; run the experiment first")
    fixed = {k: _unjson(v) for k, v in meta["experiment"]["params"].items()}
    figdir = Path(figures) if figures else store.root / "figures"
    time_axis = model.time_axis
    swept_time = time_axis is not None and df[time_axis].nunique() > 1
    rep = Report()
    for check in meta.get("checks", []):
        e = evaluate_check(df, model, fixed, check, n_boot=n_boot)
        if "_plot" in e:
            path = figdir / f"{e['name']}.png"
            _save(check_figure(e), path)
            e["figure"] = str(path)
            rep.figures.append(path)
            if swept_time and e["axis"] != time_axis:
                e["_all"] = df
                fig = curves_figure(e, time_axis)
                if fig is not None:
                    path = figdir / f"{e['name']}_curves.png"
                    _save(fig, path)
                    e["curves_figure"] = str(path)
                    rep.figures.append(path)
        rep.checks.append(_drop_private(e))
    for phase in meta.get("phases", []):
        ph = evaluate_phase(df, model, fixed, phase)
        path = figdir / f"{ph['name']}.png"
        _save(phase_figure(ph), path)
        rep.figures.append(path)
        rep.phases.append({**ph, "figure": str(path), "maps": {k: v.tolist() for k, v in ph["maps"].items()}})
    for fr in meta.get("frontiers", []):
        if fr.get("over"):  # one frontier per cell of a two-parameter grid
            from toyscale.frontier import evaluate_frontier_map, frontier_map_figure

            f = evaluate_frontier_map(df, model, fixed, fr)
            path = figdir / f"{f['name']}.png"
            _save(frontier_map_figure(f), path)
            f["figure"] = str(path)
            rep.figures.append(path)
            rep.frontiers.append(f)
            continue
        f = evaluate_frontier(df, model, fixed, fr, n_boot=min(n_boot, 200))
        if f.get("_plot") is not None:
            path = figdir / f"{f['name']}.png"
            _save(frontier_figure(f), path)
            f["figure"] = str(path)
            rep.figures.append(path)
        rep.frontiers.append(_drop_private(f))
    from toyscale.audit import audit_entry, audit_line, read_record

    audit = read_record(store.root)  # the run's precision audit: on each entry and atop report.md
    if audit:
        for kind, entries in (("check", rep.checks), ("phase", rep.phases), ("frontier", rep.frontiers)):
            for e in entries:
                e["precision_audit"] = audit_entry(audit, kind, e["name"], e)
    if rep.phases:
        _atomic_write_bytes(store.root / "phases.json", json.dumps(_clean(rep.phases), indent=2, default=float).encode())
    if rep.frontiers:
        _atomic_write_bytes(store.root / "frontiers.json", json.dumps(_clean(rep.frontiers), indent=2, default=float).encode())
    counts = df["status"].value_counts().to_dict()
    _atomic_write_bytes(store.root / "summary.json", json.dumps(_clean(rep.checks), indent=2, default=float).encode())
    methods = sorted({e.get("bootstrap") for e in rep.checks if e.get("bootstrap")})
    ci_text = {"seeds": "seed bootstrap (whole seeds resampled; SE with Student-t quantiles)",
               "points": "bootstrap over axis values (one seed: no seed-to-seed spread to resample)"}
    md = [f"# {meta['name']}: theory vs fit", "", *([audit_line(audit), ""] if audit else []),
          meta.get("description", ""), "",
          f"Rows: {len(df)} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}).", "",
          "Slopes are d log(metric) / d log(axis) of the seed-mean (the seed-median where the check says "
          "statistic = median). CI: " + ("; ".join(ci_text.get(m, m) for m in methods) or "none (no fit)") + ".",
          "", table(rep.checks), ""]
    for e in rep.checks:
        md.append(f"- **{e['name']}** ({e['metric']}, {e['law']} law; {e.get('slice') or 'whole sweep'}): {e['theory_note']}"
                  + ("; alternatives: " + ", ".join(f"{a['label']} {a['slope']:+.3f}" for a in e["alternatives"])
                     if e.get("alternatives") else "")
                  + (f" — {e['reason']}" if e.get("reason") else "")
                  + (f" Flagged runs ({e['n_flagged']}): "
                     + ", ".join(f"{e['axis']}={_g(u[e['axis']])} seed {u['seed']} ({u['status']})" for u in e["flagged_runs"]) + "."
                     if e.get("n_flagged") else "")
                  + (f" ![{e['name']}](figures/{e['name']}.png)" if e.get("figure") and not figures else ""))
    for ph in rep.phases:
        fitted = np.array(ph["maps"]["fitted"], float)
        md.append(f"\n## Phase diagram {ph['name']}: slope along {ph['axis']} over {ph['over'][0]} x {ph['over'][1]}\n")
        md.append(f"{np.isfinite(fitted).sum()} of {fitted.size} cells fitted; slopes from {np.nanmin(fitted):+.3f} "
                  f"to {np.nanmax(fitted):+.3f}. Cells in phases.json." if np.isfinite(fitted).any() else "No cell fitted.")
        if not figures:
            md.append(f"\n![{ph['name']}](figures/{ph['name']}.png)")
    for f in rep.frontiers:
        md.append(f"\n## Compute-optimal frontier {f['name']} ({f.get('slice') or 'whole sweep'})\n")
        if f.get("over"):
            from toyscale.frontier import frontier_map_table

            md.append(frontier_map_table(f) + (f"\n\n![{f['name']}](figures/{f['name']}.png)" if not figures else ""))
            continue
        md.append(frontier_table([f]))
    _atomic_write_bytes(store.root / "report.md", "\n".join(md).encode())
    return rep


def frontier_table(frontiers: list[dict]) -> str:
    """Markdown table of compute-optimal frontiers: theory vs fitted eta and xi."""
    lines = ["| frontier | regime | method | eta theory | eta fitted [95% CI] | xi theory | xi fitted [95% CI] | points "
             "| window spread eta / xi |",
             "|---|---|---|---|---|---|---|---|---|"]
    for f in frontiers:
        for m in f.get("methods", []):
            def ci(k):
                v = m.get(k)
                if v is None:
                    return "—"
                lo, hi = m.get(f"{k}_ci") or (None, None)
                return f"{v:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")

            def spread(m):
                w = m.get("window_spread")
                return "—" if not w else f"{w['eta']:.3f} / {w['xi']:.3f}"
            lines.append(f"| {f['name']} | {f['regime']} | {m['method']} | {_fmt(f.get('eta_theory'))} | {ci('eta')} | "
                         f"{_fmt(f.get('xi_theory'))} | {ci('xi')} | {m.get('n_points', 0)} | {spread(m)} |")
    return "\n".join(lines)
