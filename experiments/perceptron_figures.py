"""Data-pruning perceptron: score the runs against the replica theory and draw the figures.

Reads the result directories of ``toyscale run`` for experiments/perceptron_*.toml and prints:

* ``--reference DIR``: every setting's simulated eps (mean +- s.e. over seeds) against theory,
  with z = (sim - theory)/s.e.; acceptance |z| <= 3 everywhere;
* ``--no-pruning DIR``: the fitted slope of log eps vs log alpha over alpha >= 8 (theory -1) and
  alpha * eps at the largest alpha (theory -> 0.50);
* ``--thin-band DIR``: a perfect probe at small f: eps at fixed alpha_prune against f down to
  1/1024 with theory, the slope of log eps in log f (no turn-up: no interior optimum), and the
  theory envelope over f >= f_min (a power law in alpha_prune, not exponential);
* ``--theory-frontier FILE [--sim DIR]``: the theta > 0 frontier from the stored replica table
  (best f, the smallest f that beats no pruning, the slope at large alpha_prune), and the
  frontier run scored at theta > 0 for pools alpha_tot >= 128;
* ``--frontier DIR``: the Pareto frontier (best f and rule at each alpha_prune = f alpha_tot) from
  simulation and from theory; at theta = 0 a quadratic fit of log eps in alpha_prune along it
  whose curvature interval must exclude the curvature a power law through the same points would
  have (exponential, not power-law, decay); at theta > 0 the minimum useful f (the smallest f
  on the frontier) and the local log-log slope of the frontier at large alpha_prune (a power law
  again); figures eps vs alpha_tot per f and rule with theory curves, and the frontiers.

Usage::

    python experiments/perceptron_figures.py --reference out/perceptron_reference \\
        --no-pruning out/perceptron_no_pruning --frontier out/perceptron_frontier --figures figures/perceptron
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from toyscale.store import ResultStore
from toyscale.theory import perceptron as th


def _load(path):
    df = ResultStore(path).load()
    if df.empty or "status" not in df:
        raise SystemExit(f"{path}: no stored rows (run the experiment first: toyscale run experiments/<name>.toml)")
    return df[df["status"] == "ok"]


def seed_stats(df, keys):
    """Mean, standard error and count of ``error`` over seeds for each setting of ``keys``."""
    g = df.groupby(keys)["error"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["se"] = out["std"] / np.sqrt(out["count"])
    return out


def score_reference(path) -> bool:
    df = _load(path)
    st = seed_stats(df, ["keep", "alpha", "keep_fraction", "probe_angle"])
    ok = True
    print(f"reference settings ({path}): N = {int(df['dim'].iloc[0])}, seeds {int(st['count'].min())}")
    print("| keep | alpha_tot | f | theta | theory eps | simulation eps | z |")
    print("|---|---|---|---|---|---|---|")
    for _, r in st.iterrows():
        t = float(np.atleast_1d(th.theory_error([r["alpha"]], r["keep"], r["keep_fraction"], r["probe_angle"]))[0])
        z = (r["mean"] - t) / r["se"]
        ok &= abs(z) <= 3
        print(f"| {r['keep']} | {r['alpha']:g} | {r['keep_fraction']:g} | {r['probe_angle']:g} | {t:.4f} | "
              f"{r['mean']:.4f} ± {r['se']:.4f} | {z:+.2f} |")
    print(f"every setting within 3 s.e.: {'yes' if ok else 'NO'}")
    return ok


def score_no_pruning(path) -> bool:
    """Slope of log eps over alpha >= 8 (weighted least squares, with its standard error) against
    -1, and alpha eps at the largest alpha against the replica value there (primary: the finite-
    alpha curve) and the alpha -> infinity limit 0.50 (alternative); tolerances 0.05 and 0.02."""
    df = _load(path)
    st = seed_stats(df, ["alpha"]).sort_values("alpha")
    a, e, se = st["alpha"].to_numpy(float), st["mean"].to_numpy(float), st["se"].to_numpy(float)
    sel = a >= 8
    t = th.theory_error(a, "all")
    print(f"no pruning ({path}): N = {int(df['dim'].iloc[0])}, seeds {int(st['count'].min())}")
    for x, m, s, ti in zip(a, e, se, t):
        print(f"  alpha {x:5g}: eps {m:.4f} ± {s:.4f}  theory {ti:.4f}  z {(m - ti) / s:+.2f}  alpha*eps {x * m:.3f}")
    if sel.sum() < 2:
        print("  fewer than two alphas >= 8: no slope")
        return False
    (slope, _), cov = np.polyfit(np.log(a[sel]), np.log(e[sel]), 1, w=e[sel] / se[sel], cov="unscaled")
    slope_th = np.polyfit(np.log(a[sel]), np.log(t[sel]), 1)[0]
    ae, ae_se, ae_th = a[-1] * e[-1], a[-1] * se[-1], a[-1] * t[-1]
    ok_slope = abs(slope + 1) <= 0.05
    ok_th, ok_lim = abs(ae - ae_th) <= 0.02, abs(ae - 0.50) <= 0.02
    print(f"  slope over alpha >= 8: {slope:.3f} ± {math.sqrt(cov[0, 0]):.3f} (theory curve {slope_th:.3f}; "
          f"-1 ± 0.05: {'yes' if ok_slope else 'NO'})")
    print(f"  alpha*eps at alpha = {a[-1]:g}: {ae:.3f} ± {ae_se:.3f}; replica value there {ae_th:.4f} (± 0.02: "
          f"{'yes' if ok_th else 'NO'}); limit 0.50 (± 0.02: {'yes' if ok_lim else 'NO'})")
    return ok_slope and ok_th and ok_lim


def exponential_check(alpha, eps):
    """Quadratic fit ``log eps = a + b alpha + c alpha^2`` (least squares, 95 % interval of ``c``)
    against the curvature ``c_pow`` a power law ``eps = A alpha^-nu`` fitted to the same points
    has in these coordinates (``log eps`` vs ``alpha`` is convex for a power law:
    ``d^2 log eps / d alpha^2 = nu / alpha^2``; its best quadratic approximation over the range
    gives ``c_pow``). Exponential decay: the interval of ``c`` excludes ``c_pow``."""
    x, y = np.asarray(alpha, float), np.log(np.asarray(eps, float))
    V = np.vander(x, 3)
    coef, res, *_ = np.linalg.lstsq(V, y, rcond=None)
    dof = max(1, len(x) - 3)
    s2 = float(np.sum((y - V @ coef) ** 2)) / dof
    cov = s2 * np.linalg.inv(V.T @ V)
    from scipy import stats

    half = stats.t.ppf(0.975, dof) * math.sqrt(cov[0, 0])
    nu = -np.polyfit(np.log(x), y, 1)[0]
    ypow = np.polyval(np.polyfit(np.log(x), y, 1), np.log(x))
    c_pow = np.linalg.lstsq(V, ypow, rcond=None)[0][0]
    return coef[0], (coef[0] - half, coef[0] + half), c_pow, nu, coef[1]


#: Kept fractions over which the theory envelope is taken (f = 1/256 ... 1).
FRACTIONS = np.geomspace(1 / 256, 1.0, 17)


def frontier(path, figures=None) -> bool:
    """The Pareto frontier against alpha_prune = f alpha_tot (pools of any size), simulation and theory.

    theta = 0: at fixed alpha_prune the replica error of keep-hard falls like f (the pruned
    pool keeps the support vectors: eps ~ eps_all(alpha_prune / f)), so the envelope has no
    interior optimum; checked in the simulation by the slope of log eps against log f at fixed
    alpha_prune (theory 1). The exponential check (log eps linear in alpha_prune) is run on the
    theory envelope over f >= 1/256 and reported as it comes out. theta > 0: the envelope's best
    f (its limit is the minimum useful f) and the local log-log slope at large alpha_prune.
    """
    df = _load(path)
    st = seed_stats(df, ["keep", "alpha", "keep_fraction", "probe_angle"])
    st["alpha_prune"] = st["alpha"] * st["keep_fraction"]
    ok = True
    ap = np.array(sorted(set(st["alpha_prune"])))
    grid = ap[ap >= 0.5]
    curves = {}
    for theta in sorted(set(st["probe_angle"])):
        s = st[st["probe_angle"] == theta].copy()
        s["theory"] = np.nan
        for keep in set(s["keep"]):
            k = s["keep"] == keep
            s.loc[k, "theory"] = th.theory_error(s.loc[k, "alpha"].to_numpy(float), keep,
                                                 s.loc[k, "keep_fraction"].to_numpy(float), theta)
        s["z"] = (s["mean"] - s["theory"]) / s["se"]
        e_th, f_th, r_th = th.pareto_frontier(grid, theta, fractions=FRACTIONS)
        curves[theta] = (grid, e_th)
        inside = s[s["alpha_prune"] >= 0.5]  # below, K = alpha_prune N is a handful of examples
        worst = inside.loc[inside["z"].abs().idxmax()]
        print(f"frontier theta = {theta:g} ({path}, N = {int(df['dim'].iloc[0])}, seeds {int(s['count'].min())}); "
              f"every (pool, f, rule) with alpha_prune >= 0.5 within 3 s.e. of theory: "
              f"{'yes' if (inside['z'].abs() <= 3).all() else 'NO'} ({int((inside['z'].abs() > 3).sum())} of "
              f"{len(inside)} outside; largest |z| {abs(worst['z']):.2f} at keep-{worst['keep']}, f = "
              f"{worst['keep_fraction']:g}, alpha_tot = {worst['alpha']:g})")
        print("| alpha_prune | simulation best: eps (keep, f, alpha_tot) | theory there | theory envelope over f >= 1/256: "
              "eps (keep, f) |")
        print("|---|---|---|---|")
        for a, e, f, r in zip(grid, e_th, f_th, r_th):
            b = s[np.isclose(s["alpha_prune"], a)].sort_values("mean").iloc[0]
            print(f"| {a:g} | {b['mean']:.4f} ± {b['se']:.4f} ({b['keep']}, {b['keep_fraction']:g}, {b['alpha']:g}) | "
                  f"{b['theory']:.4f} | {e:.2e} ({r}, {f:.4f}) |")
        if theta == 0:
            # eps against f at fixed alpha_prune (keep-hard): slope 1 = no interior optimum
            for a in grid[grid >= 2]:
                h = s[np.isclose(s["alpha_prune"], a) & (s["keep"] == "hard")].sort_values("keep_fraction")
                if len(h) >= 2:
                    (b, _), cov = np.polyfit(np.log(h["keep_fraction"]), np.log(h["mean"]), 1,
                                             w=h["mean"] / h["se"], cov="unscaled") if len(h) > 2 else \
                        (np.polyfit(np.log(h["keep_fraction"]), np.log(h["mean"]), 1), np.full((2, 2), np.nan))
                    bt = np.polyfit(np.log(h["keep_fraction"]), np.log(h["theory"]), 1)[0]
                    print(f"  keep-hard at alpha_prune = {a:g}: d log eps / d log f = {b:.3f} ± {math.sqrt(cov[0, 0]):.3f} "
                          f"over f in [{h['keep_fraction'].min():g}, {h['keep_fraction'].max():g}] (theory {bt:.3f}): the "
                          "best f is the smallest, the largest pool")
            sel = grid >= 2
            c, (lo, hi), c_pow, nu, b = exponential_check(grid[sel], e_th[sel])
            exp_ok = not (lo <= c_pow <= hi)
            print(f"  theory envelope (f >= 1/256) over alpha_prune in [{grid[sel].min():g}, {grid[sel].max():g}]: "
                  f"log eps = ... {b:+.4f} alpha_prune + c alpha_prune^2, c = {c:.2e} [{lo:.2e}, {hi:.2e}]; a power "
                  f"law (nu = {nu:.2f}) has c = {c_pow:.2e}: exponential {'yes' if exp_ok else 'NO'}")
            ok &= exp_ok
        else:
            big = grid >= 8
            loc = np.polyfit(np.log(grid[big]), np.log(e_th[big]), 1)[0] if big.sum() >= 2 else float("nan")
            print(f"  theory: best f along the envelope {', '.join(f'{f:.3f}' for f in f_th)}; minimum useful f "
                  f"(its value at the largest alpha_prune) {f_th[-1]:.3f}; log-log slope over alpha_prune >= 8: "
                  f"{loc:.3f}" + (" (a power law again)" if s["theory"].notna().all() else
                                   f"; NOT established: the theta > 0 solver returned NaN at {int(s['theory'].isna().sum())} "
                                   "(pool, f, rule) settings, so the envelope misses them"))
            best = s.loc[s.groupby("alpha_prune")["mean"].idxmin()].sort_values("alpha_prune")
            best = best[best["alpha_prune"] >= 0.5]
            sb = best[best["alpha_prune"] >= 8]
            if len(sb) >= 2:
                print(f"  simulation: best f {', '.join(f'{f:g}' for f in best['keep_fraction'])}; log-log slope of the "
                      f"best eps over alpha_prune >= 8: {np.polyfit(np.log(sb['alpha_prune']), np.log(sb['mean']), 1)[0]:.3f}")
    if figures:
        _figures(st, curves, Path(figures))
    return ok


def _two_panels(figures):
    """The output folder (created) and a 1 x 2 figure for it."""
    from matplotlib.figure import Figure

    out = Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(10, 4), dpi=110)
    return out, fig, fig.subplots(1, 2)


def thin_band(path, figures=None) -> bool:
    """A perfect probe at small kept fractions: does eps at fixed alpha_prune turn back up as f -> 0?

    Keep-hard, theta = 0, pools alpha_tot = alpha_prune / f up to 4096 (experiments/
    perceptron_thin_band.toml). Prints every (alpha_prune, f) against the replica error with z,
    ``alpha_prune eps / f`` against its f -> 0 limit ``c(alpha_prune)``
    (:func:`toyscale.theory.perceptron.thin_band_limit`), and at each alpha_prune > 2 the slope
    of log eps in log f (weighted least squares, 95 % interval). Acceptance: every point within
    3 s.e. and, at alpha_prune > 2, a slope interval above 0 (eps still falls at the smallest f:
    no interior optimum) containing the theory slope. Also the theory envelope over
    f >= f_min and the fit of its log in alpha_prune (:func:`exponential_check`).
    """
    from scipy import stats

    df = _load(path)
    df = df[(df["keep"] == "hard") & (df["probe_angle"] == 0)]
    st = seed_stats(df, ["alpha", "keep_fraction"])
    st["alpha_prune"] = st["alpha"] * st["keep_fraction"]
    st["theory"] = th.theory_error(st["alpha"].to_numpy(float), "hard", st["keep_fraction"].to_numpy(float), 0.0)
    st["z"] = (st["mean"] - st["theory"]) / st["se"]
    ok = bool((st["z"].abs() <= 3).all())
    print(f"thin band ({path}): keep-hard, theta = 0, N = {int(df['dim'].iloc[0])}, seeds {int(st['count'].min())}; "
          f"all {len(st)} settings within 3 s.e.: {'yes' if ok else 'NO'} (largest |z| {st['z'].abs().max():.2f})")
    print("| alpha_prune | f | alpha_tot | simulation eps | theory eps | z | alpha_prune eps / f (sim, theory) |")
    print("|---|---|---|---|---|---|---|")
    for _, r in st.sort_values(["alpha_prune", "keep_fraction"], ascending=[True, False]).iterrows():
        sc = r["alpha_prune"] / r["keep_fraction"]
        print(f"| {r['alpha_prune']:g} | 1/{1 / r['keep_fraction']:g} | {r['alpha']:g} | {r['mean']:.3e} ± {r['se']:.1e} | "
              f"{r['theory']:.3e} | {r['z']:+.2f} | {r['mean'] * sc:.3f}, {r['theory'] * sc:.3f} |")
    lines = {}
    for a in sorted(set(st["alpha_prune"])):
        h = st[np.isclose(st["alpha_prune"], a)].sort_values("keep_fraction")
        lines[a] = h
        if a <= 2 or len(h) < 3:
            continue
        x, y, w = np.log(h["keep_fraction"]), np.log(h["mean"]), (h["mean"] / h["se"]).to_numpy()
        (b, _), cov = np.polyfit(x, y, 1, w=w, cov=True)
        half = stats.t.ppf(0.975, len(h) - 2) * math.sqrt(cov[0, 0])
        bt = np.polyfit(x, np.log(h["theory"]), 1)[0]
        c = float(th.thin_band_limit(a))
        good = (b - half > 0) and (b - half <= bt <= b + half)
        ok &= good
        print(f"  alpha_prune = {a:g}: d log eps / d log f = {b:.3f} [{b - half:.3f}, {b + half:.3f}] over f in "
              f"[1/{1 / h['keep_fraction'].min():g}, 1/{1 / h['keep_fraction'].max():g}] (theory {bt:.3f}; f -> 0 limit "
              f"alpha_prune eps / f = {c:.4f}): eps still falls at the smallest f, no interior optimum: "
              f"{'yes' if good else 'NO'}")
    # the theory envelope over f >= f_min (keep-hard; keep-easy only matters below alpha_prune = 2)
    f_min = float(st["keep_fraction"].min())
    grid = np.array([2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 11.0, 16.0])
    env = th.frontier(grid, 0.0, f_min=f_min, n_fractions=16, rules=("hard",))
    cq, (lo, hi), c_pow, nu, bq = exponential_check(grid, env["error"])
    exp_ok = not (lo <= c_pow <= hi)
    print(f"  theory envelope over f >= 1/{1 / f_min:g} at alpha_prune = {', '.join(f'{g:g}' for g in grid)}: best f "
          f"{'the edge f_min everywhere' if not env['interior'].any() else 'interior somewhere'}; eps = "
          f"{', '.join(f'{e:.3e}' for e in env['error'])}; log eps = ... {bq:+.4f} alpha_prune + c alpha_prune^2, "
          f"c = {cq:.2e} [{lo:.2e}, {hi:.2e}] against a power law's (nu = {nu:.3f}) {c_pow:.2e}: exponential "
          f"{'yes' if exp_ok else 'NO (a power law)'}")
    if figures:
        out, fig, (ax1, ax2) = _two_panels(figures)
        fine = np.geomspace(f_min / 4, 1.0, 15)
        for i, (a, h) in enumerate(lines.items()):
            if a < 1:
                continue
            col = f"C{i}"
            ax1.errorbar(h["keep_fraction"], h["mean"], h["se"], fmt="o", color=col, label=f"alpha_prune = {a:g}")
            ax1.plot(fine, th.theory_error(a / fine, "hard", fine, 0.0), "-", color=col, lw=1)
        ax1.set(xscale="log", yscale="log", xlabel="kept fraction f (pool alpha_prune / f)", ylabel="eps",
                title="keep-hard, theta = 0: eps at fixed alpha_prune")
        ax1.legend(fontsize=7)
        ax2.plot(grid, env["error"], "ko-", label=f"envelope over f >= 1/{1 / f_min:g}")
        for f in (1.0, 1 / 16, 1 / 256):
            ax2.plot(grid, th.theory_error(grid / f, "hard", f, 0.0), "--", lw=1, label=f"f = 1/{1 / f:g}")
        ax2.set(xscale="log", yscale="log", xlabel="alpha_prune", ylabel="eps (theory)",
                title="theta = 0 frontier: a power law at the edge f_min")
        ax2.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "thin_band.png")
    return ok


def theory_frontier(table_path, sim=None, figures=None) -> bool:
    """The theta > 0 Pareto frontier from the stored replica table (experiments/perceptron_frontier_theory.py).

    For each probe angle: the envelope over f and both rules at each alpha_prune, the best f
    f*(alpha_prune), the smallest f that still beats no pruning at that alpha_prune (pruning
    helps only above it), and the log-log slope of the envelope over the largest two
    alpha_prune (a power law again: slope near -1). With ``sim`` (the frontier run), the
    simulated theta > 0 settings with pools alpha_tot >= 128 (the solver's former NaN region)
    are scored against theory (z within 3).
    """
    import json

    t = json.loads(Path(table_path).read_text())
    ap, fr = np.array(t["alpha_prune"]), np.array(t["fractions"])
    ok = True
    env = {}
    for theta in t["thetas"]:
        eh = np.array([[np.nan if x is None else x for x in row] for row in t["error"][f"{theta:g}/hard"]])
        ee = np.array([[np.nan if x is None else x for x in row] for row in t["error"][f"{theta:g}/easy"]])
        both = np.where(np.isnan(eh), np.inf, eh), np.where(np.isnan(ee), np.inf, ee)
        best = np.minimum(*both)
        j = np.argmin(best, axis=1)
        e_star = best[np.arange(len(ap)), j]
        rule = np.where(both[0][np.arange(len(ap)), j] <= both[1][np.arange(len(ap)), j], "hard", "easy")
        unpruned = eh[:, -1]  # f = 1
        print(f"theory frontier, theta = {theta:g} ({table_path}; f in {{{', '.join(f'1/{1 / f:g}' for f in fr)}}}, "
              f"{int(np.isnan(eh).sum() + np.isnan(ee).sum())} of {eh.size + ee.size} settings unsolved)")
        print("| alpha_prune | best eps (rule, f*) | no pruning | smallest f that beats no pruning (keep-hard) |")
        print("|---|---|---|---|")
        for i, a in enumerate(ap):
            helps = fr[(eh[i] < unpruned[i]) & (fr < 1)]
            print(f"| {a:g} | {e_star[i]:.4g} ({rule[i]}, {fr[j[i]]:g}) | {unpruned[i]:.4g} | "
                  f"{helps.min() if helps.size else float('nan'):g} |")
        slope = np.polyfit(np.log(ap[-2:]), np.log(e_star[-2:]), 1)[0]
        interior = (fr[j] > fr[0]) & (fr[j] < 1)
        print(f"  best f: {', '.join(f'{fr[k]:g}' for k in j)} (interior at {int(interior.sum())} of {len(ap)} alpha_prune); "
              f"log-log slope of the envelope over alpha_prune in [{ap[-2]:g}, {ap[-1]:g}]: {slope:.3f} "
              f"(a power law again; theta = 0 over the same f: -1)")
        env[theta] = (e_star, fr[j])
    if sim:
        df = _load(sim)
        st = seed_stats(df, ["keep", "alpha", "keep_fraction", "probe_angle"])
        st = st[(st["probe_angle"] > 0) & (st["alpha"] >= 128)]
        for keep in sorted(set(st["keep"])):
            k = st["keep"] == keep
            st.loc[k, "theory"] = th.theory_error(st.loc[k, "alpha"].to_numpy(float), keep,
                                                  st.loc[k, "keep_fraction"].to_numpy(float),
                                                  st.loc[k, "probe_angle"].to_numpy(float))
        st["z"] = (st["mean"] - st["theory"]) / st["se"]
        good = bool(st["theory"].notna().all() and (st["z"].abs() <= 3).all())
        ok &= good
        print(f"  simulation ({sim}) at theta > 0, pools alpha_tot >= 128, against the theory (NaN before the fix): "
              f"{'all within 3 s.e.' if good else 'NOT all within 3 s.e.'}")
        for _, r in st.iterrows():
            print(f"    keep-{r['keep']}, theta {r['probe_angle']:g}, alpha_tot {r['alpha']:g}, f {r['keep_fraction']:g}: "
                  f"{r['mean']:.4f} ± {r['se']:.4f} vs {r['theory']:.4f} (z {r['z']:+.2f})")
    if figures:
        out, fig, (ax1, ax2) = _two_panels(figures)
        for i, (theta, (e, f)) in enumerate(env.items()):
            ax1.plot(ap, e, "o-", color=f"C{i}", label=f"envelope, theta = {theta:g}")
            ax2.plot(ap, f, "o-", color=f"C{i}", label=f"theta = {theta:g}")
        ax1.plot(ap, 0.5 / ap, "k:", lw=1, label="no pruning, 0.5/alpha")
        ax1.set(xscale="log", yscale="log", xlabel="alpha_prune", ylabel="eps (theory)",
                title="Pareto frontier, imperfect probe")
        ax2.set(xscale="log", yscale="log", xlabel="alpha_prune", ylabel="best kept fraction f*",
                title="optimal f along the frontier")
        ax1.legend(fontsize=7)
        ax2.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "frontier_theta_positive.png")
    return ok


def _figures(st, curves, out):
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    for theta in sorted(set(st["probe_angle"])):
        fig = Figure(figsize=(10, 4), dpi=110)
        axes = fig.subplots(1, 2)
        for ax, keep in zip(axes, ("hard", "easy")):
            s = st[(st["probe_angle"] == theta) & (st["keep"] == keep)]
            for i, f in enumerate(sorted(set(s["keep_fraction"]))):
                r = s[s["keep_fraction"] == f].sort_values("alpha")
                col = f"C{i}"
                ax.errorbar(r["alpha"], r["mean"], r["se"], fmt="o", color=col, label=f"f = {f:g}")
                fine = np.geomspace(s["alpha"].min(), s["alpha"].max(), 12)
                ax.plot(fine, th.theory_error(fine, keep, f, theta), "-", color=col, lw=1)
            ax.set(xscale="log", yscale="log", xlabel="alpha_tot", ylabel="eps", title=f"keep-{keep}, theta = {theta:g}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"eps_vs_alpha_theta{theta:g}.png")
    fig = Figure(figsize=(5, 4), dpi=110)
    ax = fig.subplots()
    for theta, (a, e) in curves.items():
        ax.plot(a, e, "o-", label=f"theta = {theta:g}")
    ax.set(xscale="log", yscale="log", xlabel="alpha_prune", ylabel="eps, envelope over f >= 1/256 (theory)",
           title="Pareto frontier")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "frontier.png")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference")
    ap.add_argument("--no-pruning")
    ap.add_argument("--frontier")
    ap.add_argument("--thin-band")
    ap.add_argument("--theory-frontier", help="the JSON table of experiments/perceptron_frontier_theory.py")
    ap.add_argument("--sim", help="with --theory-frontier: the frontier run, scored at theta > 0, alpha_tot >= 128")
    ap.add_argument("--figures")
    a = ap.parse_args(argv)
    results = {}
    if a.reference:
        results["reference"] = score_reference(a.reference)
    if a.no_pruning:
        results["no_pruning"] = score_no_pruning(a.no_pruning)
    if a.frontier:
        results["frontier"] = frontier(a.frontier, a.figures)
    if a.theory_frontier:
        results["theory_frontier"] = theory_frontier(a.theory_frontier, a.sim, a.figures)
    if a.thin_band:
        results["thin_band"] = thin_band(a.thin_band, a.figures)
    print("acceptance:", ", ".join(f"{k} {'pass' if v else 'FAIL'}" for k, v in results.items()))


if __name__ == "__main__":
    main()
