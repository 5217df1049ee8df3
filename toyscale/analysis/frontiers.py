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
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from toyscale.analysis.slicing import same_value, select, slice_label, theory_slice
from toyscale.fit import fit_joint_vp, seed_interval
from toyscale.analysis.result import EntryResult
from toyscale.protocol import DEFAULT_TOLERANCE
from toyscale.theory.base import DEFAULT_METRIC

#: Points of the log-compute grid on which the envelope is taken.
GRID = 48
#: Seed resamples for the joint-law intervals (each a coarse variable-projection fit).
JOINT_BOOT = 40
#: Fewest successful resamples for which an interval is reported.
MIN_BOOT = 10


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
            "compute_range": [float(C[ok].min()), float(C[ok].max())], "env": (C, Ls, Ns, ok)}


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


@dataclass(frozen=True)
class FrontierResult(EntryResult):
    """A measured compute-optimal frontier (one ``[[frontiers]]`` table, or a map of them when the
    table has ``over``): the JSON entry of ``frontiers.json`` (:meth:`to_json`), including the
    drawable data (``curves``: seed-mean ``L(C)`` per size; ``envelope``), so its figure is drawn
    from the stored result."""


def _axes(model, spec: Mapping) -> tuple[str, str, str]:
    """(size axis, time axis, metric) of a frontier table: the table's, else the model's."""
    return (spec.get("size") or model.size_axis, spec.get("time") or model.time_axis or "steps",
            spec.get("metric") or DEFAULT_METRIC)


def _drawable(curves: dict, env) -> dict:
    out = {"curves": {f"{n:g}": [np.asarray(c, float).tolist(), np.asarray(l, float).tolist()]
                      for n, (c, l) in curves.items()}}
    if env is not None:
        C, Ls, Ns, ok = env
        out["envelope"] = {"C": C.tolist(), "L": Ls.tolist(), "size": Ns.tolist(), "interior": ok.tolist()}
    return out


def _method(name: str, mean_curves: dict, boot_curves: list, window, n_seeds: int, entry: Mapping) -> dict:
    """One estimator's frontier on the seed-mean curves: eta, xi, their seed-bootstrap intervals
    (:func:`toyscale.fit.seed_interval`), window sensitivity and both verdicts against the theory
    (within tolerance; inside the interval)."""
    fn = METHODS[name]
    e = fn(mean_curves, window)
    if e is None:
        return {"method": name, "eta": None, "xi": None, "n_points": 0,
                "reason": "too few usable IsoFLOP slices / points in the window"}
    m = {"method": name, **{k: v for k, v in e.items() if k != "env"}}
    nb = len(boot_curves) if name != "joint" else min(len(boot_curves), JOINT_BOOT)
    boots = []
    for bc in boot_curves[:nb]:
        b = fn(bc, window) if name != "joint" else _estimate_joint(bc, window, coarse=True)
        if b is not None:
            boots.append((b["eta"], b["xi"]))
    if len(boots) >= MIN_BOOT:
        boots = np.asarray(boots)
        for j, k in enumerate(("eta", "xi")):
            m[f"{k}_ci"] = list(seed_interval(m[k], boots[:, j], n_seeds))
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
        if t is not None and f"{k}_ci" in m:
            m[f"{k}_theory_in_ci"] = bool(m[f"{k}_ci"][0] <= t <= m[f"{k}_ci"][1])
    return m


def evaluate_frontier(df, model, fixed: Mapping, spec: Mapping, n_boot: int = 200, seed: int = 0) -> FrontierResult:
    """Measure the compute-optimal frontier of one slice and hold it against the theory's.

    ``spec``: ``name``, ``size`` (size axis, default the model's ``size_axis``), ``time``
    (default the model's time axis), ``where`` (fixes every other swept axis), ``metric``
    (default ``loss``), ``tolerance``.
    Returns a JSON-able entry with ``eta_theory``, ``xi_theory`` (from
    ``model.theory.frontier``), and per method the fitted ``eta``, ``xi`` with intervals.
    """
    size, time_ax, metric = _axes(model, spec)
    sel = select(df, spec.get("where", {}))
    accepted = tuple(spec.get("statuses") or model.usable_statuses())
    th = model.theory.frontier(theory_slice(fixed, spec.get("where", {}), size, metric=metric))
    entry = {"name": spec["name"], "size": size, "time": time_ax, "metric": metric,
             "where": spec.get("where", {}), "slice": slice_label(spec.get("where", {})),
             "regime": th.regime if th else "no theory frontier", "eta_theory": th.eta if th else None,
             "xi_theory": th.xi if th else None, "theory_note": th.note if th else "",
             "tolerance": spec.get("tolerance", DEFAULT_TOLERANCE), "methods": []}
    if model.compute is None:
        entry["reason"] = f"model {model.name} declares no compute(row)"
        return FrontierResult(entry)
    sel = sel[sel["status"].isin(accepted)].copy()
    if sel.empty:
        entry["reason"] = "no usable rows in the slice"
        return FrontierResult(entry)
    sel["compute"] = [float(model.compute({**fixed, **r})) for r in sel.to_dict("records")]
    seeds = sorted(set(sel["seed"]))
    by_seed = {s: g for s, g in sel.groupby("seed")}

    def curves_of(seed_list):
        sub = [by_seed[s] for s in seed_list]
        import pandas as pd

        d = pd.concat(sub).groupby([size, time_ax]).agg(C=("compute", "mean"), L=(metric, "mean")).reset_index()
        d = d[np.isfinite(d["L"]) & (d["L"] > 0)]
        return {float(n): (g["C"].to_numpy(), g["L"].to_numpy()) for n, g in d.groupby(size) if len(g) >= 2}

    mean_curves = curves_of(seeds)
    if len(mean_curves) < 3:
        entry["reason"] = f"need >= 3 sizes with >= 2 recorded {time_ax} values each"
        return FrontierResult(entry)
    est = _estimate(mean_curves)
    if est is None:
        entry["reason"] = "fewer than 3 computes with an interior optimum: widen the size range"
        entry.update(_drawable(mean_curves, None))
        return FrontierResult(entry)
    window = tuple(est["compute_range"])
    entry["compute_window"] = list(window)
    rng = np.random.default_rng(seed)
    resamples = [list(rng.choice(seeds, len(seeds))) for _ in range(n_boot)] if len(seeds) >= 2 else []
    boot_curves = [curves_of(r) for r in resamples]
    for name in METHODS:
        entry["methods"].append(_method(name, mean_curves, boot_curves, window, len(seeds), entry))
    fitted = [m for m in entry["methods"] if m.get("eta") is not None]
    if len(fitted) >= 2:
        entry["method_spread"] = {k: max(m[k] for m in fitted) - min(m[k] for m in fitted) for k in ("eta", "xi")}
    entry.update(_drawable(mean_curves, est["env"]))
    return FrontierResult(entry)


def evaluate_frontier_map(df, model, fixed: Mapping, spec: Mapping) -> FrontierResult:
    """One compute-optimal frontier per cell of the ``spec['over']`` grid (a measured phase
    diagram of ``eta`` and ``xi``).

    In each cell the seed-mean curves give the envelope (approach 1) and parabola (approach 2)
    estimates over the cell's interior compute window (no bootstrap: a few milliseconds of
    numpy per cell). Maps (``len(v1) x len(v2)``): ``eta``, ``xi`` (envelope), ``eta_parabola``,
    ``xi_parabola``, ``eta_theory``, ``xi_theory`` (NaN where the theory is open) and the
    residuals ``eta_residual = theory - measured`` (likewise ``xi``). ``regimes`` names each
    cell's theory regime; ``overlays`` lists the lines the theory draws over these two
    parameters (:meth:`toyscale.theory.base.Theory.overlays`).
    """
    o1, o2 = spec["over"]
    size, time_ax, metric = _axes(model, spec)
    accepted = tuple(spec.get("statuses") or model.usable_statuses())
    sel0 = select(df, spec.get("where", {}))
    sel0 = sel0[sel0["status"].isin(accepted)].copy()
    sel0["compute"] = [float(model.compute({**fixed, **r})) for r in sel0.to_dict("records")]
    v1s, v2s = sorted(set(sel0[o1]), key=float), sorted(set(sel0[o2]), key=float)
    names = ["eta", "xi", "eta_parabola", "xi_parabola", "eta_theory", "xi_theory", "eta_residual", "xi_residual"]
    maps = {k: np.full((len(v1s), len(v2s)), np.nan) for k in names}
    regimes = [["" for _ in v2s] for _ in v1s]
    for i, a in enumerate(v1s):
        for j, b in enumerate(v2s):
            where = {**spec.get("where", {}), o1: a, o2: b}
            th = model.theory.frontier(theory_slice(fixed, where, size, metric=metric))
            if th is not None:
                regimes[i][j] = th.regime
                maps["eta_theory"][i, j] = np.nan if th.eta is None else th.eta
                maps["xi_theory"][i, j] = np.nan if th.xi is None else th.xi
            cell = sel0[same_value(sel0[o1], a) & same_value(sel0[o2], b)]
            if cell.empty:
                continue
            d = cell.groupby([size, time_ax]).agg(C=("compute", "mean"), L=(metric, "mean")).reset_index()
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
    lines = model.theory.overlays((o1, o2), theory_slice(fixed, spec.get("where", {}), size, metric=metric))
    overlays = [{"label": ov.label, "style": ov.style, o1: np.asarray(ov.points[o1], float).tolist(),
                 o2: np.asarray(ov.points[o2], float).tolist()} for ov in lines]
    return FrontierResult({"name": spec["name"], "over": [o1, o2],
                           "values": [[float(v) for v in v1s], [float(v) for v in v2s]],
                           "size": size, "time": time_ax, "metric": metric, "where": spec.get("where", {}),
                           "regimes": regimes, "maps": {k: v.tolist() for k, v in maps.items()}, "overlays": overlays})
