"""Theory-vs-fit report from stored results: summary.json, report.md, one figure per check.

Fit-range rule (documented in the README): a check fits the swept values of its axis that lie
in ``fit_range`` if the experiment gives one, else in the theory's validity interval
(``Prediction.valid``: before finite-size plateaus). Values where any seed's status is not
``ok`` are dropped and counted. At least 3 values are needed for a fit.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from toyscale.errors import UserError
from toyscale.fit import fit_scaling, goodness_of_fit, heldout_error, range_sensitivity
from toyscale.models import get_model
from toyscale.store import ResultStore, _atomic_write_bytes


def _unjson(v):
    return math.inf if v == "inf" else v


def _fmt(x, nd=3):
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:+.{nd}f}"


def slice_stats(sel, model, axis: str, xs) -> dict:
    """Seed-mean of every scalar metric at each axis value (``ok`` rows only)."""
    ok = sel[sel["status"] == "ok"]
    out = {}
    for m in model.metrics:
        if m.size == 0:
            g = ok.groupby(ok[axis].astype(float))[m.name].mean()
            out[m.name] = np.array([g.get(float(x), np.nan) for x in xs])
    return out


def evaluate_check(df, model, fixed: dict, check: dict, n_boot: int = 1000) -> dict:
    """Fit one check on the rows of ``df`` and compare with the model's theory.

    Where the theory predicts no exponent (``pred.slope is None``) the data are shown unfitted,
    unless ``check["fit_always"]`` (phase-diagram cells): then the slope is fitted over the
    theory's validity interval (or ``fit_range``) and ``agrees`` is ``None``.
    """
    axis, where = check["axis"], {k: _unjson(v) for k, v in check["where"].items()}
    sel = df
    for k, v in where.items():
        sel = sel[sel[k] == v] if isinstance(v, str) else sel[np.isclose(sel[k].astype(float), float(v), rtol=1e-9)]
    params = {**fixed, **where}
    if check.get("metric"):
        params["_metric"] = check["metric"]  # theories that predict several metrics read this
    xs_all = sorted(set(float(x) for x in sel[axis]))
    pred = model.theory(axis, params, xs_all, stats=slice_stats(sel, model, axis, xs_all))
    metric = check.get("metric") or pred.metric
    law = pred.law
    lo, hi = check.get("fit_range") or pred.valid
    entry = {"name": check["name"], "model": model.name, "axis": axis, "regime": pred.regime,
             "theory": pred.slope, "metric": metric, "law": law, "where": check["where"],
             "theory_note": pred.note, "tolerance": check.get("tolerance", 0.1)}
    seeds = sorted(set(sel["seed"]))
    xs, Ys, dropped = [], [], []
    for x in xs_all:
        if not (lo <= x <= hi) or not math.isfinite(x):
            continue
        rows = sel[np.isclose(sel[axis].astype(float), x)]
        ok = (rows["status"] == "ok").all() and len(rows) == len(seeds)
        vals = rows.set_index("seed")[metric].reindex(seeds).to_numpy(float)
        if not ok or not np.all(vals > 0):
            dropped.append(x)
            continue
        xs.append(x)
        Ys.append(vals)
    entry["_sel"] = sel  # private (not written): the slice, for figures and phase maps
    if model.unconverged is not None:
        ok_rows = sel[sel["status"] == "ok"]
        flag = np.asarray(model.unconverged(ok_rows), bool) if len(ok_rows) else np.zeros(0, bool)
        entry["_unconverged"] = flag  # aligned with the slice's ok rows
        entry["n_runs"] = int(len(ok_rows))
        entry["n_unconverged"] = int(flag.sum())
        entry["unconverged_runs"] = [{axis: _unjson(r[axis]), "seed": int(r["seed"])}
                                     for _, r in ok_rows[flag].iterrows()][:50]
    entry.update(n_points=len(xs), n_seeds=len(seeds), dropped=dropped,
                 fit_range=[min(xs), max(xs)] if xs else None,
                 fit_range_rule="check.fit_range" if check.get("fit_range") else "theory validity interval")
    if pred.slope is None and not check.get("fit_always"):
        entry.update(fitted=None, ci_low=None, ci_high=None, agrees=None,
                     reason="theory predicts no exponent in this regime; data shown, no fit")
        entry["_plot"] = (sel, xs_all, metric, None, pred, (lo, hi))
        return entry
    if len(xs) < 3:
        entry.update(fitted=None, ci_low=None, ci_high=None, agrees=None,
                     reason=f"only {len(xs)} usable axis values in [{lo:g}, {hi:g}]")
        return entry
    fit = fit_scaling(np.array(xs), np.array(Ys), law=law, n_boot=n_boot if law == "power" else min(n_boot, 200))
    entry.update(fitted=fit.slope, ci_low=fit.ci_low, ci_high=fit.ci_high, fit_params=fit.params,
                 ci_level=fit.level, bootstrap=fit.resampled)
    ymean = np.mean(np.array(Ys), axis=1)
    entry.update(heldout_error(xs, ymean, law=law, n_holdout=1))
    entry.update(goodness_of_fit(ymean, fit.predict(np.array(xs))))
    entry.update(range_sensitivity(xs, ymean, law=law, threshold=entry["tolerance"]))
    if pred.slope is None:
        entry["agrees"] = None
    else:
        entry["agrees"] = bool(abs(fit.slope - pred.slope) <= entry["tolerance"])
        entry["theory_in_ci"] = bool(fit.ci_low <= pred.slope <= fit.ci_high)
    entry["_plot"] = (sel, xs_all, metric, fit, pred, (lo, hi))
    return entry


def plot_check(entry: dict, path: Path) -> None:
    """Data (mean ± sd over seeds), fitted law and theory slope on log-log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel, xs_all, metric, fit, pred, (lo, hi) = entry["_plot"]
    axis = entry["axis"]
    fig, ax = plt.subplots(figsize=(5.2, 4.0), dpi=110)
    xs, mean, sd = [], [], []
    for x in xs_all:
        if not math.isfinite(x):
            continue
        v = sel[np.isclose(sel[axis].astype(float), x)][metric].to_numpy(float)
        v = v[np.isfinite(v)]
        if len(v) and np.mean(v) > 0:
            xs.append(x), mean.append(np.mean(v)), sd.append(np.std(v) / math.sqrt(len(v)))
    xs, mean, sd = map(np.asarray, (xs, mean, sd))
    fr = entry["fit_range"] or (lo, hi)
    infit = (xs >= fr[0]) & (xs <= fr[1]) if fit is not None else np.ones(len(xs), bool)
    ax.errorbar(xs[infit], mean[infit], yerr=sd[infit], fmt="o", color="C0", ms=4, capsize=2,
                label=f"{metric} (mean ± s.e.m., {entry['n_seeds']} seeds)")
    if (~infit).any():
        ax.errorbar(xs[~infit], mean[~infit], yerr=sd[~infit], fmt="o", mfc="none", color="C0", ms=4, capsize=2, alpha=0.6, label="not fitted")
    if fit is not None:
        xf = np.geomspace(*entry["fit_range"], 100)
        ax.plot(xf, fit.predict(xf), "-", color="C1",
                label=f"fit: slope {fit.slope:+.3f} [{fit.ci_low:+.3f}, {fit.ci_high:+.3f}]")
    if pred.slope is not None and fit is not None:
        xm = math.sqrt(xf[0] * xf[-1])
        ym = float(fit.predict(xm)) - fit.params.get("E", 0.0)
        yt = ym * (xf / xm) ** pred.slope + fit.params.get("E", 0.0)
        ax.plot(xf, yt, "--", color="k", lw=1, label=f"theory: slope {pred.slope:+.3f}")
    if pred.curve is not None:
        ax.plot(xs, pred.curve(xs), ":", color="C2", label="theory (finite size)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(axis)
    ax.set_ylabel(metric)
    ax.set_title(f"{entry['name']}: {entry['regime']}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def plot_curves(entry: dict, model, fixed: dict, path: Path) -> None:
    """Training curves of a check's slice (``model.curve``), colour = axis value, one line per
    seed; runs the model flags unconverged (``model.unconverged``) dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = entry["_sel"]
    sel = sel[sel["status"] == "ok"]
    metric, xfn = model.curve
    axis = entry["axis"]
    if sel.empty or metric not in sel:
        return
    flag = entry.get("_unconverged", np.zeros(len(sel), bool))
    vals = sorted(set(float(v) for v in sel[axis]))
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(5.2, 4.0), dpi=110)
    for (_, r), bad in zip(sel.iterrows(), flag):
        params = {**fixed, **{k: _unjson(r[k]) for k in r.index if k in model.param_names}}
        c = cmap(vals.index(float(r[axis])) / max(1, len(vals) - 1))
        ax.plot(xfn(params), np.asarray(r[metric], float), "--" if bad else "-", color=c, lw=0.8, alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    n_bad = int(flag.sum())
    ax.set_title(f"{entry['name']}: {metric}; colour = {axis} {vals[0]:g}..{vals[-1]:g}\n"
                 f"{n_bad} of {len(sel)} runs flagged unconverged (dashed)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def table(entries: list[dict]) -> str:
    """Markdown table: per check, regime, theory slope vs fitted slope with its CI."""
    conv = any("n_unconverged" in e for e in entries)
    lines = ["| check | regime | axis | theory | fitted [95% CI] | agrees | points | fit range | held-out err | range-sensitive |"
             + (" unconverged runs |" if conv else ""),
             "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if conv else "")]
    for e in entries:
        ci = f" [{_fmt(e['ci_low'])}, {_fmt(e['ci_high'])}]" if e.get("fitted") is not None else ""
        agrees = {True: "yes", False: "NO", None: "—"}[e.get("agrees")]
        fr = "—" if not e.get("fit_range") else f"{e['fit_range'][0]:g}–{e['fit_range'][1]:g}"
        lines.append(f"| {e['name']} | {e['regime']} | {e['axis']} | {_fmt(e['theory'])} | "
                     f"{_fmt(e.get('fitted'))}{ci} | {agrees} | {e['n_points']} | {fr} | "
                     f"{'—' if e.get('heldout_rel_error') is None else format(e['heldout_rel_error'], '.1%')} | "
                     f"{ {True: 'yes', False: 'no', None: '—'}[e.get('range_sensitive')] } |"
                     + (f" {e['n_unconverged']} of {e['n_runs']} |" if "n_unconverged" in e else (" — |" if conv else "")))
    return "\n".join(lines)


def _drop_private(entry: dict) -> dict:
    """Remove the in-memory keys (``_sel``, ``_plot``, ...) that are not written to JSON."""
    for k in [k for k in entry if k.startswith("_")]:
        del entry[k]
    return entry


def evaluate_phase(df, model, fixed: dict, phase: dict, n_boot: int = 200) -> dict:
    """Fit ``phase['axis']`` in every cell of the ``phase['over']`` grid (a phase diagram).

    Returns ``{"name", "axis", "over", "values": [v1s, v2s], "cells": [entry, ...],
    "maps": {"fitted", "ci_low", "ci_high", "theory", METRIC...}}`` with maps shaped
    (len(v1s), len(v2s)); each cell entry is :func:`evaluate_check`'s. Every cell is fitted, also
    where the theory predicts no exponent (``theory`` is NaN there): the fitted map is the
    measured phase diagram, the theory map says where theory has something to compare.
    """
    o1, o2 = phase["over"]
    v1s = sorted(set(df[o1]), key=float) if df[o1].dtype != object else sorted(set(df[o1]))
    v2s = sorted(set(df[o2]), key=float) if df[o2].dtype != object else sorted(set(df[o2]))
    names = ["fitted", "ci_low", "ci_high", "theory"] + list(phase.get("show", []))
    maps = {k: np.full((len(v1s), len(v2s)), np.nan) for k in names}
    cells = []
    for i, a in enumerate(v1s):
        for j, b in enumerate(v2s):
            check = dict(phase, fit_always=True, name=f"{phase['name']}[{o1}={a:g},{o2}={b:g}]", where={**phase["where"], o1: a, o2: b})
            e = evaluate_check(df, model, fixed, check, n_boot=n_boot)
            sel = e["_sel"]
            _drop_private(e)
            for k in ("fitted", "ci_low", "ci_high", "theory"):
                maps[k][i, j] = np.nan if e.get(k) is None else e[k]
            ok = sel[sel["status"] == "ok"]
            if len(ok):
                xmax = (e.get("fit_range") or [None, ok[phase["axis"]].astype(float).max()])[1]
                at = ok[np.isclose(ok[phase["axis"]].astype(float), xmax)]
                for k in phase.get("show", []):
                    maps[k][i, j] = at[k].mean()
            e[o1], e[o2] = a, b
            cells.append(e)
    return {"name": phase["name"], "axis": phase["axis"], "over": [o1, o2], "values": [v1s, v2s],
            "cells": cells, "maps": maps}


def plot_phase(ph: dict, path: Path) -> None:
    """Heatmaps: fitted exponent, theory exponent (where theory gives one), shown metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("fitted", f"fitted slope along {ph['axis']}")]
    if np.isfinite(ph["maps"]["theory"]).any():
        panels.append(("theory", "theory slope"))
    panels += [(k, k) for k in ph["maps"] if k not in ("fitted", "ci_low", "ci_high", "theory")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 3.8), dpi=110, squeeze=False)
    (o1, o2), (v1s, v2s) = ph["over"], ph["values"]
    lims = np.nanmin([np.nanmin(ph["maps"][k]) for k in ("fitted", "theory") if np.isfinite(ph["maps"][k]).any()]), \
        np.nanmax([np.nanmax(ph["maps"][k]) for k in ("fitted", "theory") if np.isfinite(ph["maps"][k]).any()])
    for ax, (k, title) in zip(axes[0], panels):
        m = ph["maps"][k]
        kw = dict(vmin=lims[0], vmax=lims[1], cmap="viridis") if k in ("fitted", "theory") else dict(cmap="magma")
        im = ax.imshow(m.T, origin="lower", aspect="auto", **kw)
        ax.set_xticks(range(len(v1s)), [f"{v:.2g}" for v in v1s], fontsize=7, rotation=45)
        ax.set_yticks(range(len(v2s)), [f"{v:.2g}" for v in v2s], fontsize=7)
        ax.set_xlabel(o1)
        ax.set_ylabel(o2)
        ax.set_title(title, fontsize=9)
        if k in ("fitted", "theory") and m.size <= 120:
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    if np.isfinite(m[i, j]):
                        ax.text(i, j, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=5, color="w")
        fig.colorbar(im, ax=ax, shrink=0.85)
    fig.suptitle(f"{ph['name']}: phase diagram", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _clean(x):
    """JSON-safe copy: NaN/inf floats become None, numpy scalars become Python numbers."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def make_report(out: str | Path, figures: str | Path | None = None, n_boot: int = 1000) -> list[dict]:
    """Regenerate ``summary.json``, ``report.md`` and the check figures from stored results."""
    store = ResultStore(out)
    meta = store.read_meta()
    model = get_model(meta["experiment"]["model"])
    df = store.load()
    if df.empty:
        raise UserError(str(out), "no stored rows yet; run the experiment first")
    fixed = {k: _unjson(v) for k, v in meta["experiment"]["params"].items()}
    figdir = Path(figures) if figures else store.root / "figures"
    entries = []
    for check in meta.get("checks", []):
        e = evaluate_check(df, model, fixed, check, n_boot=n_boot)
        if "_plot" in e:
            fig = figdir / f"{e['name']}.png"
            plot_check(e, fig)
            e["figure"] = str(fig)
            if model.curve is not None:
                cfig = figdir / f"{e['name']}_curves.png"
                plot_curves(e, model, fixed, cfig)
                e["curves_figure"] = str(cfig)
        entries.append(_drop_private(e))
    phases = []
    for phase in meta.get("phases", []):
        ph = evaluate_phase(df, model, fixed, phase)
        fig = figdir / f"{ph['name']}.png"
        plot_phase(ph, fig)
        phases.append({"name": ph["name"], "axis": ph["axis"], "over": ph["over"], "values": ph["values"],
                       "figure": str(fig), "maps": {k: v.tolist() for k, v in ph["maps"].items()},
                       "cells": ph["cells"]})
    if phases:
        _atomic_write_bytes(store.root / "phases.json", json.dumps(_clean(phases), indent=2, default=float).encode())
    counts = df["status"].value_counts().to_dict()
    _atomic_write_bytes(store.root / "summary.json", json.dumps(_clean(entries), indent=2, default=float).encode())
    md = [f"# {meta['name']}: theory vs fit", "", meta.get("description", ""), "",
          f"Rows: {len(df)} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}).", "",
          "Slopes are d log(metric) / d log(axis); CI: seed bootstrap (SE with Student-t quantiles).", "", table(entries), ""]
    for e in entries:
        md.append(f"- **{e['name']}** ({e['metric']}, {e['law']} law): {e['theory_note']}"
                  + (f" — {e['reason']}" if e.get("reason") else "")
                  + (f" Unconverged runs ({e['n_unconverged']}): "
                     + ", ".join(f"{e['axis']}={u[e['axis']]:g} seed {u['seed']}" for u in e["unconverged_runs"]) + "."
                     if e.get("n_unconverged") else "")
                  + (f" ![{e['name']}](figures/{e['name']}.png)" if e.get("figure") and not figures else ""))
    for ph in phases:
        fitted = np.array(ph["maps"]["fitted"], float)
        md.append(f"\n## Phase diagram {ph['name']}: slope along {ph['axis']} over {ph['over'][0]} x {ph['over'][1]}\n")
        md.append(f"{np.isfinite(fitted).sum()} of {fitted.size} cells fitted; slopes from {np.nanmin(fitted):+.3f} "
                  f"to {np.nanmax(fitted):+.3f}. Cells in phases.json." if np.isfinite(fitted).any() else "No cell fitted.")
        if not figures:
            md.append(f"\n![{ph['name']}](figures/{ph['name']}.png)")
    _atomic_write_bytes(store.root / "report.md", "\n".join(md).encode())
    return entries, phases
