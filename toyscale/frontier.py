"""Compute-optimal frontiers from a size x time sweep (``[[frontiers]]`` in an experiment file).

A model that declares ``compute(row)`` (e.g. ``f = steps * width * batch``, Paquette et al.
2024) gives every stored row a compute ``C``. For each size, the training curve ``L(C)`` is the
seed-mean metric along the time axis. The **IsoFLOP envelope** (Hoffmann et al. 2022,
"approach 1") takes, at each compute on a log grid, the lowest loss over the sizes whose curve
reaches that compute (interpolated linearly in log C, log L): ``L*(C)`` and the size ``N*(C)``
that attains it. Power laws ``L* ~ C^-eta`` and ``N* ~ C^xi`` are fitted by least squares in
log-log space over the computes where the optimum is an interior size (an optimum at the
smallest or largest swept size is a truncated frontier, not a measurement). Intervals: seeds
resampled with replacement, the bootstrap standard error rescaled by ``sqrt(s / (s - 1))`` with
Student-t quantiles, as the slope fits do.
"""

from __future__ import annotations

import math

import numpy as np

#: Points of the log-compute grid on which the envelope is taken.
GRID = 48


def envelope(curves: dict, grid: int = GRID):
    """IsoFLOP envelope of training curves.

    Args:
      curves: ``{size: (C, L)}``, compute and loss arrays along one size's training curve.
      grid: number of log-spaced computes.

    Returns:
      ``(C, Lstar, Nstar, interior)`` arrays over the grid; ``interior`` is False where the
      optimum is the smallest or largest size (or no curve reaches that compute).
    """
    sizes = sorted(curves)
    logs = {n: (np.log(np.asarray(c, float)), np.log(np.asarray(l, float))) for n, (c, l) in curves.items()}
    lo = min(v[0].min() for v in logs.values())
    hi = max(v[0].max() for v in logs.values())
    lc = np.linspace(lo, hi, grid)
    L = np.full((len(sizes), grid), np.inf)
    for i, n in enumerate(sizes):
        x, y = logs[n]
        order = np.argsort(x)
        x, y = x[order], y[order]
        inside = (lc >= x[0]) & (lc <= x[-1])
        L[i, inside] = np.interp(lc[inside], x, y)
    best = np.argmin(L, axis=0)
    Lstar = L[best, np.arange(grid)]
    reached = np.isfinite(Lstar)
    interior = reached & (best > 0) & (best < len(sizes) - 1)
    return np.exp(lc), np.exp(Lstar), np.asarray(sizes, float)[best], interior


def _slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _estimate(mean_curves: dict):
    C, Ls, Ns, ok = envelope(mean_curves)
    if ok.sum() < 3 or len(set(Ns[ok])) < 2:
        return None
    return {"eta": -_slope(C[ok], Ls[ok]), "xi": _slope(C[ok], Ns[ok]), "n_points": int(ok.sum()),
            "compute_range": [float(C[ok].min()), float(C[ok].max())], "_env": (C, Ls, Ns, ok)}


def evaluate_frontier(df, model, fixed: dict, spec: dict, n_boot: int = 200, seed: int = 0) -> dict:
    """Measure the compute-optimal frontier of one slice and hold it against the theory's.

    ``spec``: ``name``, ``size`` (size axis, default ``width``), ``time`` (default ``steps``),
    ``where`` (fixes every other swept axis), ``metric`` (default ``loss``), ``tolerance``.
    Returns a JSON-able entry with ``eta_theory``, ``xi_theory`` (from
    ``model.theory.frontier``), and per method the fitted ``eta``, ``xi`` with intervals.
    """
    from scipy import stats

    from toyscale.report import _select, _theory_params, slice_label

    size, time_ax = spec.get("size", "width"), spec.get("time", "steps")
    metric = spec.get("metric") or "loss"
    sel = _select(df, spec.get("where", {}))
    accepted = tuple(spec.get("statuses") or model.usable_statuses())
    params = _theory_params(model, fixed, spec.get("where", {}), size)
    th = model.theory.frontier(params, size)
    entry = {"name": spec["name"], "size": size, "time": time_ax, "metric": metric,
             "where": spec.get("where", {}), "slice": slice_label(spec.get("where", {})),
             "regime": th.regime if th else "no theory frontier", "eta_theory": th.eta if th else None,
             "xi_theory": th.xi if th else None, "theory_note": th.note if th else "",
             "tolerance": spec.get("tolerance", 0.1), "methods": []}
    if model.compute is None:
        entry["reason"] = f"model {model.name} declares no compute(row)"
        return entry
    sel = sel[sel["status"].isin(accepted)].copy()
    if sel.empty:
        entry["reason"] = "no usable rows in the slice"
        return entry
    sel["_C"] = [float(model.compute({**fixed, **r})) for r in sel.to_dict("records")]
    seeds = sorted(set(sel["seed"]))
    by_seed = {s: g for s, g in sel.groupby("seed")}

    def curves_of(seed_list):
        sub = [by_seed[s] for s in seed_list]
        import pandas as pd

        d = pd.concat(sub).groupby([size, time_ax]).agg(C=("_C", "mean"), L=(metric, "mean")).reset_index()
        d = d[np.isfinite(d["L"]) & (d["L"] > 0)]
        return {float(n): (g["C"].to_numpy(), g["L"].to_numpy()) for n, g in d.groupby(size) if len(g) >= 2}

    mean_curves = curves_of(seeds)
    if len(mean_curves) < 3:
        entry["reason"] = f"need >= 3 sizes with >= 2 recorded {time_ax} values each"
        return entry
    est = _estimate(mean_curves)
    if est is None:
        entry["reason"] = "fewer than 3 computes with an interior optimum: widen the size range"
        entry["_plot"] = (mean_curves, None, None)
        return entry
    m = {"method": "envelope", **{k: v for k, v in est.items() if not k.startswith("_")}}
    if len(seeds) >= 2 and n_boot > 0:
        rng = np.random.default_rng(seed)
        boots = []
        for _ in range(n_boot):
            b = _estimate(curves_of(list(rng.choice(seeds, len(seeds)))))
            if b is not None:
                boots.append((b["eta"], b["xi"]))
        if len(boots) >= 10:
            boots = np.asarray(boots)
            s = len(seeds)
            q = stats.t.ppf(0.975, s - 1) * math.sqrt(s / (s - 1))
            for j, k in enumerate(("eta", "xi")):
                se = float(np.std(boots[:, j], ddof=1))
                m[f"{k}_ci"] = [m[k] - q * se, m[k] + q * se]
            m["bootstrap"] = f"seeds ({len(boots)} resamples)"
    for k in ("eta", "xi"):
        t = entry[f"{k}_theory"]
        m[f"{k}_agrees"] = None if t is None else bool(abs(m[k] - t) <= entry["tolerance"])
    entry["methods"].append(m)
    entry["_plot"] = (mean_curves, est["_env"], m)
    return entry


def frontier_figure(entry: dict):
    """Training curves L(C) per size, the envelope, and the fitted frontier."""
    from matplotlib import colormaps

    from toyscale.report import _figure, _log_axes

    curves, env, m = entry["_plot"]
    fig, (ax,) = _figure()
    sizes = sorted(curves)
    cmap = colormaps["viridis"]
    for i, n in enumerate(sizes):
        C, L = curves[n]
        o = np.argsort(C)
        ax.plot(C[o], L[o], "-", color=cmap(i / max(1, len(sizes) - 1)), lw=0.8, label=f"{entry['size']}={n:g}" if i in (0, len(sizes) - 1) else None)
    if env is not None:
        C, Ls, Ns, ok = env
        ax.plot(C[ok], Ls[ok], "o", color="C3", ms=3, label="envelope (interior optimum)")
        xf = C[ok]
        a = np.exp(np.mean(np.log(Ls[ok])) + m["eta"] * np.mean(np.log(xf)))
        ax.plot(xf, a * xf ** (-m["eta"]), "-", color="C1", label=f"fit: eta {m['eta']:.3f}, xi {m['xi']:.3f}")
        if entry.get("eta_theory") is not None:
            ax.plot(xf, a * xf ** (-m["eta"]) * (xf / xf[0]) ** (m["eta"] - entry["eta_theory"]), "--", color="k", lw=1,
                    label=f"theory eta {entry['eta_theory']:.3f}")
    _log_axes(ax, "compute C", entry["metric"])
    ax.set_title(f"{entry['name']}: compute-optimal frontier ({entry['regime']})\n{entry['slice'] or 'whole sweep'}", fontsize=8)
    ax.legend(fontsize=7)
    return fig
