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

Three estimators on the same curves (Hoffmann et al. 2022's three approaches):

1. ``envelope`` -- the IsoFLOP envelope above.
2. ``parabola`` -- per IsoFLOP slice (a compute on the grid), ``log L`` at each size
   (interpolated along its curve) is fitted by a parabola in ``log N`` over the ``2 h + 1``
   sizes around the best one; its vertex gives ``N*(C)`` and ``L*(C)`` between swept sizes.
3. ``joint`` -- ``L(N, T) = E + A N^-a + B T^-b`` with ``T = C / N`` (steps x batch) fitted to
   every point in the compute window (variable projection, :func:`toyscale.fit.fit_joint_vp`);
   minimising at fixed ``C`` gives ``xi = b / (a + b)`` and ``eta = a b / (a + b)`` (of ``L* - E``).

Every method fits over the same compute window: the computes where the envelope's optimum is
interior. Window sensitivity: each method is refitted on the lower and upper two thirds of that
window (in log compute); ``window_spread`` is the largest change of ``eta`` and ``xi``.
"""

from __future__ import annotations

import math

import numpy as np

#: Points of the log-compute grid on which the envelope is taken.
GRID = 48
#: Seed resamples for the joint-law intervals (each a coarse variable-projection fit).
JOINT_BOOT = 40


def isoflop_grid(curves: dict, grid: int = GRID, fill: float = np.inf):
    """Training curves interpolated onto one log-spaced compute grid (the IsoFLOP slices).

    Args:
      curves: ``{size: (C, L)}``, compute and loss arrays along one size's training curve.
      grid: number of log-spaced computes between the smallest and largest compute reached.
      fill: value where a size's curve does not reach that compute.

    Returns:
      ``(sizes, log_C, log_L)``: sorted sizes, the grid of log computes and the
      ``(len(sizes), grid)`` array of log losses (linear interpolation in log-log).
    """
    sizes = sorted(curves)
    logs = {n: (np.log(np.asarray(c, float)), np.log(np.asarray(l, float))) for n, (c, l) in curves.items()}
    lo = min(v[0].min() for v in logs.values())
    hi = max(v[0].max() for v in logs.values())
    lc = np.linspace(lo, hi, grid)
    L = np.full((len(sizes), grid), fill)
    for i, n in enumerate(sizes):
        x, y = logs[n]
        order = np.argsort(x)
        x, y = x[order], y[order]
        inside = (lc >= x[0]) & (lc <= x[-1])
        L[i, inside] = np.interp(lc[inside], x, y)
    return sizes, lc, L


def envelope(curves: dict, grid: int = GRID):
    """IsoFLOP envelope of training curves.

    Args:
      curves: ``{size: (C, L)}``, compute and loss arrays along one size's training curve.
      grid: number of log-spaced computes.

    Returns:
      ``(C, Lstar, Nstar, interior)`` arrays over the grid; ``interior`` is False where the
      optimum is the smallest or largest size (or no curve reaches that compute).
    """
    sizes, lc, L = isoflop_grid(curves, grid, fill=np.inf)
    best = np.argmin(L, axis=0)
    Lstar = L[best, np.arange(grid)]
    reached = np.isfinite(Lstar)
    interior = reached & (best > 0) & (best < len(sizes) - 1)
    return np.exp(lc), np.exp(Lstar), np.asarray(sizes, float)[best], interior


def _slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _estimate(mean_curves: dict, window=None):
    C, Ls, Ns, ok = envelope(mean_curves)
    if window is not None:
        ok = ok & (C >= window[0] * (1 - 1e-9)) & (C <= window[1] * (1 + 1e-9))
    if ok.sum() < 3 or len(set(Ns[ok])) < 2:
        return None
    return {"eta": -_slope(C[ok], Ls[ok]), "xi": _slope(C[ok], Ns[ok]), "n_points": int(ok.sum()),
            "compute_range": [float(C[ok].min()), float(C[ok].max())], "_env": (C, Ls, Ns, ok)}


#: Half-width h of the parabola window (sizes around the IsoFLOP minimum) of approach 2.
PARABOLA_HALF = 2


def isoflop_parabolas(curves: dict, window, grid: int = GRID, half: int = PARABOLA_HALF):
    """Approach 2: per IsoFLOP slice, the vertex of a parabola in ``log N`` fitted to ``log L``.

    Returns ``(C, Lstar, Nstar)`` over the computes of the grid inside ``window`` where the
    slice's best size is interior, at least 3 sizes reach it, and the parabola opens upwards
    with its vertex inside the fitted sizes.
    """
    sizes, lc, L = isoflop_grid(curves, grid, fill=np.nan)
    lx = np.log(np.asarray(sizes, float))
    out = []
    for j in range(grid):
        c = math.exp(lc[j])
        if not (window[0] * (1 - 1e-9) <= c <= window[1] * (1 + 1e-9)):
            continue
        col = L[:, j]
        fin = np.isfinite(col)
        if fin.sum() < 3:
            continue
        i0 = int(np.nanargmin(np.where(fin, col, np.inf)))
        if i0 == 0 or i0 == len(sizes) - 1 or not (fin[i0 - 1] and fin[i0 + 1]):
            continue
        idx = [i for i in range(i0 - half, i0 + half + 1) if 0 <= i < len(sizes) and fin[i]]
        p2, p1, p0 = np.polyfit(lx[idx], col[idx], 2)
        if p2 <= 0:
            continue
        xs = -p1 / (2 * p2)
        if not lx[idx].min() <= xs <= lx[idx].max():
            continue
        out.append((c, math.exp(p0 + p1 * xs + p2 * xs * xs), math.exp(xs)))
    if len(out) < 3:
        return None
    return tuple(np.asarray(v) for v in zip(*out))


def _estimate_parabola(curves: dict, window):
    r = isoflop_parabolas(curves, window)
    if r is None:
        return None
    C, Ls, Ns = r
    return {"eta": -_slope(C, Ls), "xi": _slope(C, Ns), "n_points": len(C),
            "compute_range": [float(C.min()), float(C.max())]}


def _estimate_joint(curves: dict, window, coarse: bool = False):
    from toyscale.fit import fit_joint_vp

    N, T, L = [], [], []
    for n, (c, l) in curves.items():
        c, l = np.asarray(c, float), np.asarray(l, float)
        m = (c >= window[0] * (1 - 1e-9)) & (c <= window[1] * (1 + 1e-9)) & np.isfinite(l) & (l > 0)
        N += [n] * int(m.sum())
        T += list(c[m] / n)
        L += list(l[m])
    if len(L) < 6 or len(set(N)) < 3:
        return None
    g = np.linspace(0.05, 3.0, 24 if coarse else 60)
    f = fit_joint_vp(np.asarray(N), np.asarray(T), np.asarray(L), a_grid=g, b_grid=g)
    if f.a + f.b <= 0:
        return None
    return {"eta": f.a * f.b / (f.a + f.b), "xi": f.b / (f.a + f.b), "n_points": len(L),
            "compute_range": [float(window[0]), float(window[1])],
            "law": {"E": f.E, "A": f.A, "B": f.B, "a": f.a, "b": f.b}}


METHODS = {"envelope": lambda c, w: _estimate(c, w), "parabola": _estimate_parabola, "joint": _estimate_joint}


def _subwindows(window):
    l0, l1 = math.log(window[0]), math.log(window[1])
    d = (l1 - l0) / 3
    return {"lower 2/3": (window[0], math.exp(l1 - d)), "upper 2/3": (math.exp(l0 + d), window[1])}


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
    window = tuple(est["compute_range"])
    entry["compute_window"] = list(window)
    rng = np.random.default_rng(seed)
    resamples = [list(rng.choice(seeds, len(seeds))) for _ in range(n_boot)] if len(seeds) >= 2 else []
    boot_curves = [curves_of(r) for r in resamples]
    for name in METHODS:
        fn = METHODS[name]
        e = fn(mean_curves, window)
        if e is None:
            entry["methods"].append({"method": name, "eta": None, "xi": None, "n_points": 0,
                                     "reason": "too few usable IsoFLOP slices / points in the window"})
            continue
        m = {"method": name, **{k: v for k, v in e.items() if not k.startswith("_")}}
        nb = len(boot_curves) if name != "joint" else min(len(boot_curves), JOINT_BOOT)
        boots = []
        for bc in boot_curves[:nb]:
            b = fn(bc, window) if name != "joint" else _estimate_joint(bc, window, coarse=True)
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
        sens = {}
        for wname, w in _subwindows(window).items():
            r = fn(mean_curves, w)
            sens[wname] = None if r is None else {"eta": r["eta"], "xi": r["xi"]}
        m["window_sensitivity"] = sens
        got = [v for v in sens.values() if v is not None]
        m["window_spread"] = ({k: max(abs(v[k] - m[k]) for v in got) for k in ("eta", "xi")} if got else None)
        for k in ("eta", "xi"):
            t = entry[f"{k}_theory"]
            m[f"{k}_agrees"] = None if t is None else bool(abs(m[k] - t) <= entry["tolerance"])
        entry["methods"].append(m)
    fitted = [m for m in entry["methods"] if m.get("eta") is not None]
    if len(fitted) >= 2:
        entry["method_spread"] = {k: max(m[k] for m in fitted) - min(m[k] for m in fitted) for k in ("eta", "xi")}
    entry["_plot"] = (mean_curves, est["_env"], entry["methods"][0])
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


def evaluate_frontier_map(df, model, fixed: dict, spec: dict) -> dict:
    """One compute-optimal frontier per cell of the ``spec['over']`` grid (a measured phase
    diagram of ``eta`` and ``xi``).

    In each cell the seed-mean curves give the envelope (approach 1) and parabola (approach 2)
    estimates over the cell's interior compute window (no bootstrap: a few milliseconds of
    numpy per cell). Maps (``len(v1) x len(v2)``): ``eta``, ``xi`` (envelope), ``eta_parabola``,
    ``xi_parabola``, ``eta_theory``, ``xi_theory`` (NaN where the theory is open) and the
    residuals ``eta_residual = theory - measured`` (likewise ``xi``). ``regimes`` names each
    cell's theory regime.
    """
    from toyscale.report import _select, _theory_params, same_value

    o1, o2 = spec["over"]
    size, time_ax = spec.get("size", "width"), spec.get("time", "steps")
    metric = spec.get("metric") or "loss"
    accepted = tuple(spec.get("statuses") or model.usable_statuses())
    sel0 = _select(df, spec.get("where", {}))
    sel0 = sel0[sel0["status"].isin(accepted)].copy()
    sel0["_C"] = [float(model.compute({**fixed, **r})) for r in sel0.to_dict("records")]
    v1s, v2s = sorted(set(sel0[o1]), key=float), sorted(set(sel0[o2]), key=float)
    names = ["eta", "xi", "eta_parabola", "xi_parabola", "eta_theory", "xi_theory", "eta_residual", "xi_residual"]
    maps = {k: np.full((len(v1s), len(v2s)), np.nan) for k in names}
    regimes = [["" for _ in v2s] for _ in v1s]
    for i, a in enumerate(v1s):
        for j, b in enumerate(v2s):
            where = {**spec.get("where", {}), o1: a, o2: b}
            th = model.theory.frontier(_theory_params(model, fixed, where, size), size)
            if th is not None:
                regimes[i][j] = th.regime
                maps["eta_theory"][i, j] = np.nan if th.eta is None else th.eta
                maps["xi_theory"][i, j] = np.nan if th.xi is None else th.xi
            cell = sel0[same_value(sel0[o1], a) & same_value(sel0[o2], b)]
            if cell.empty:
                continue
            d = cell.groupby([size, time_ax]).agg(C=("_C", "mean"), L=(metric, "mean")).reset_index()
            d = d[np.isfinite(d["L"]) & (d["L"] > 0) & (d["C"] > 0)]
            curves = {float(n): (g["C"].to_numpy(), g["L"].to_numpy()) for n, g in d.groupby(size) if len(g) >= 2}
            if len(curves) < 3:
                continue
            est = _estimate(curves)
            if est is None:
                continue
            maps["eta"][i, j], maps["xi"][i, j] = est["eta"], est["xi"]
            par = _estimate_parabola(curves, tuple(est["compute_range"]))
            if par is not None:
                maps["eta_parabola"][i, j], maps["xi_parabola"][i, j] = par["eta"], par["xi"]
    for k in ("eta", "xi"):
        maps[f"{k}_residual"] = maps[f"{k}_theory"] - maps[k]
    return {"name": spec["name"], "over": [o1, o2], "values": [[float(v) for v in v1s], [float(v) for v in v2s]],
            "size": size, "time": time_ax, "metric": metric, "where": spec.get("where", {}),
            "regimes": regimes, "maps": {k: v.tolist() for k, v in maps.items()}}


def frontier_map_table(f: dict) -> str:
    """Markdown summary of a frontier map: per cell, theory vs measured eta and xi."""
    o1, o2 = f["over"]
    lines = [f"| {o1} | {o2} | regime | eta theory | eta envelope | eta parabola | xi theory | xi envelope | xi parabola |",
             "|---|---|---|---|---|---|---|---|---|"]
    m = {k: np.asarray(v, float) for k, v in f["maps"].items()}

    def g(x):
        return "—" if not np.isfinite(x) else f"{x:.3f}"

    for i, a in enumerate(f["values"][0]):
        for j, b in enumerate(f["values"][1]):
            lines.append(f"| {a:g} | {b:g} | {f['regimes'][i][j] or '—'} | {g(m['eta_theory'][i, j])} | {g(m['eta'][i, j])} | "
                         f"{g(m['eta_parabola'][i, j])} | {g(m['xi_theory'][i, j])} | {g(m['xi'][i, j])} | {g(m['xi_parabola'][i, j])} |")
    r = m["eta_residual"][np.isfinite(m["eta_residual"])]
    rx = m["xi_residual"][np.isfinite(m["xi_residual"])]
    if r.size:
        lines.append(f"\nTheory - measured over {r.size} cells with a theory: eta median {np.median(r):+.3f} "
                     f"(max |.| {np.max(np.abs(r)):.3f}); xi median {np.median(rx):+.3f} (max |.| {np.max(np.abs(rx)):.3f}).")
    return "\n".join(lines)


def _boundaries(ax, x0, x1, y0, y1, xname, yname):
    """PLRF's phase boundaries in the (alpha, beta) plane: alpha = 1/2, beta = 1/2, beta = alpha,
    alpha = 1/4, alpha + beta = 1/2 (drawn when the axes are alpha and beta)."""
    if {xname, yname} != {"alpha", "beta"}:
        return
    t = np.linspace(0, 4, 400)

    def line(al, be, **kw):
        xs, ys = (al, be) if xname == "alpha" else (be, al)
        ax.plot(xs, ys, **kw)

    kw = dict(color="w", lw=1.0, ls="--")
    line(np.full_like(t, 0.5), t, **kw)
    line(t[t >= 0.5], np.full((t >= 0.5).sum(), 0.5), **kw)
    line(t[t >= 0.5], t[t >= 0.5], **kw)
    line(np.full_like(t, 0.25), t, **kw)
    line(t[t <= 0.5], 0.5 - t[t <= 0.5], color="w", lw=1.0, ls=":")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def frontier_map_figure(f: dict):
    """Maps of measured eta and xi (envelope), the theory's, and theory - measured, over the
    ``over`` grid, with PLRF's phase boundaries (white dashed) when the axes are (alpha, beta).
    Cells where the theory is open are blank in the theory and residual panels."""
    from matplotlib.figure import Figure

    o1, o2 = f["over"]
    v1, v2 = (np.asarray(v, float) for v in f["values"])
    m = {k: np.asarray(v, float) for k, v in f["maps"].items()}

    def edges(v):
        if len(v) == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        mid = (v[1:] + v[:-1]) / 2
        return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])

    e1, e2 = edges(v1), edges(v2)
    panels = [("eta", "eta_theory", "eta_residual"), ("xi", "xi_theory", "xi_residual")]
    big = Figure(figsize=(13, 7.4), dpi=110)
    grid = big.subplots(2, 3)
    for r, (meas, th, res) in enumerate(panels):
        fin = np.concatenate([m[meas][np.isfinite(m[meas])], m[th][np.isfinite(m[th])]])
        lim = (fin.min(), fin.max()) if fin.size else (0, 1)
        rl = np.nanmax(np.abs(m[res])) if np.isfinite(m[res]).any() else 1.0
        for c, (k, title, cmap, kw) in enumerate([
                (meas, f"measured {meas} (IsoFLOP envelope)", "viridis", dict(vmin=lim[0], vmax=lim[1])),
                (th, f"theory {meas} (blank: open)", "viridis", dict(vmin=lim[0], vmax=lim[1])),
                (res, f"theory - measured {meas}", "coolwarm", dict(vmin=-rl, vmax=rl))]):
            ax = grid[r, c]
            im = ax.pcolormesh(e1, e2, m[k].T, cmap=cmap, shading="flat", **kw)
            _boundaries(ax, e1[0], e1[-1], e2[0], e2[-1], o1, o2)
            if m[k].size <= 200:
                for i in range(len(v1)):
                    for j in range(len(v2)):
                        if np.isfinite(m[k][i, j]):
                            ax.text(v1[i], v2[j], f"{m[k][i, j]:.2f}", ha="center", va="center", fontsize=5)
            ax.set_xlabel(o1)
            ax.set_ylabel(o2)
            ax.set_title(title, fontsize=8)
            big.colorbar(im, ax=ax, shrink=0.85)
    where = ", ".join(f"{k}={v}" for k, v in f.get("where", {}).items())
    big.suptitle(f"{f['name']}: compute-optimal exponents per ({o1}, {o2}) cell, {f['size']} x {f['time']} grid"
                 + (f"; {where}" if where else "") + "; dashed: PLRF phase boundaries", fontsize=9)
    return big
