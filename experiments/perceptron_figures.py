"""Data-pruning perceptron: score the runs against the replica theory and draw the figures.

Reads the result directories of ``toyscale run`` for experiments/perceptron_*.toml and prints:

* ``--reference DIR``: every setting's simulated eps (mean +- s.e. over seeds) against theory,
  with z = (sim - theory)/s.e.; acceptance |z| <= 3 everywhere;
* ``--no-pruning DIR``: the fitted slope of log eps vs log alpha over alpha >= 8 (theory -1) and
  alpha * eps at the largest alpha (theory -> 0.50);
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


def frontier(path, figures=None) -> bool:
    df = _load(path)
    st = seed_stats(df, ["keep", "alpha", "keep_fraction", "probe_angle"])
    st["alpha_prune"] = st["alpha"] * st["keep_fraction"]
    ok = True
    ap = np.array(sorted(set(st["alpha_prune"])))
    fine = np.geomspace(ap.min(), ap.max(), 10)
    fr = np.geomspace(0.01, 1.0, 16)
    curves = {}
    for theta in sorted(set(st["probe_angle"])):
        s = st[st["probe_angle"] == theta]
        best = s.loc[s.groupby("alpha_prune")["mean"].idxmin()].sort_values("alpha_prune")
        e_th, f_th, r_th = th.pareto_frontier(fine, theta, fractions=fr)
        curves[theta] = (e_th, f_th)
        print(f"frontier theta = {theta:g} ({path}, N = {int(df['dim'].iloc[0])}), against alpha_prune = f alpha_tot:")
        for _, r in best.iterrows():
            t = float(np.atleast_1d(th.theory_error([r["alpha"]], r["keep"], r["keep_fraction"], theta))[0])
            print(f"  alpha_prune {r['alpha_prune']:6g}: simulation best eps {r['mean']:.4f} ± {r['se']:.4f} at keep-{r['keep']} "
                  f"f = {r['keep_fraction']:g} (theory there {t:.4f})")
        for a, e, f, rr in zip(fine, e_th, f_th, r_th):
            print(f"  alpha_prune {a:7.3f}: theory frontier eps {e:.5f} at keep-{rr} f = {f:.3f}")
        sa, se_ = best["alpha_prune"].to_numpy(float), best["mean"].to_numpy(float)
        if theta == 0:
            c, (lo, hi), c_pow, nu, b = exponential_check(fine, e_th)
            exp_ok = not (lo <= c_pow <= hi)
            print(f"  theory: log eps = ... + {b:.4f} alpha_prune + c alpha_prune^2, c = {c:.2e} [{lo:.2e}, {hi:.2e}]; a "
                  f"power law (nu = {nu:.2f}) would have c = {c_pow:.2e}: exponential {'yes' if exp_ok else 'NO'}")
            if len(sa) >= 4:
                c, (lo, hi), c_pow, nu, b = exponential_check(sa, se_)
                print(f"  simulation frontier: slope {b:.4f}, c = {c:.2e} [{lo:.2e}, {hi:.2e}], power-law curvature "
                      f"{c_pow:.2e}: {'excluded' if not (lo <= c_pow <= hi) else 'not excluded'}")
            ok &= exp_ok
        else:
            fmin = float(np.min(f_th))
            loc = np.polyfit(np.log(fine[-4:]), np.log(e_th[-4:]), 1)[0]
            print(f"  theory: minimum useful f = {fmin:.3f}; frontier log-log slope at large alpha_prune {loc:.3f} "
                  "(a power law again)")
            print(f"  simulation: smallest frontier f = {best['keep_fraction'].min():g}; frontier log-log slope over the "
                  f"largest alpha_prune {np.polyfit(np.log(sa[-3:]), np.log(se_[-3:]), 1)[0]:.3f}")
    if figures:
        _figures(st, curves, fine, Path(figures))
    return ok


def _figures(st, curves, fine, out):
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
                ax.plot(fine, th.theory_error(fine, keep, f, theta), "-", color=col, lw=1)
            ax.set(xscale="log", yscale="log", xlabel="alpha_tot", ylabel="eps", title=f"keep-{keep}, theta = {theta:g}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"eps_vs_alpha_theta{theta:g}.png")
    fig = Figure(figsize=(5, 4), dpi=110)
    ax = fig.subplots()
    for theta, (e, _) in curves.items():
        ax.plot(fine, e, label=f"theta = {theta:g}")
    ax.set(yscale="log", xlabel="alpha_prune", ylabel="frontier eps (theory)", title="Pareto frontier")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "frontier.png")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference")
    ap.add_argument("--no-pruning")
    ap.add_argument("--frontier")
    ap.add_argument("--figures")
    a = ap.parse_args(argv)
    results = {}
    if a.reference:
        results["reference"] = score_reference(a.reference)
    if a.no_pruning:
        results["no_pruning"] = score_no_pruning(a.no_pruning)
    if a.frontier:
        results["frontier"] = frontier(a.frontier, a.figures)
    print("acceptance:", ", ".join(f"{k} {'pass' if v else 'FAIL'}" for k, v in results.items()))


if __name__ == "__main__":
    main()
