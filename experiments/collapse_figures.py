"""Model collapse from tail-cut data: score the stored runs against the closed forms and draw
the figures (docs/results/model_collapse.md).

Reads the result directories of ``toyscale run`` for experiments/collapse_*.toml and prints, for
every curve, the seed mean with its standard error against the theory (largest |z| and largest
relative error), then draws:

* ``--tail-cut DIR``: error vs T for every k with the exact curves (the bent scaling law), and the
  floor vs k at the largest T with the fitted exponent against -(alpha - 1);
* ``--generations DIR``: error vs generation for every clean fraction with the branching-process
  curves;
* ``--mixing DIR``: error vs T for every clean fraction (recovery) and error vs clean fraction at
  every T, with the exact curves.

Usage::

    python experiments/collapse_figures.py --tail-cut out/collapse_tail_cut \\
        --generations out/collapse_generations --mixing out/collapse_mixing --figures figures/model_collapse
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from toyscale.store import ResultStore
from toyscale.theory import model_collapse as th


def _load(path):
    df = ResultStore(path).load()
    return df[df["status"] == "ok"].copy()


def seed_stats(df, keys):
    """Mean, standard error and count of ``error`` over seeds for each setting of ``keys``."""
    g = df.groupby(keys)["error"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["se"] = out["std"] / np.sqrt(out["count"])
    return out


def _const(df, name):
    vals = sorted(set(df[name]))
    assert len(vals) == 1, (name, vals)
    return vals[0]


def _score(label, mean, se, theory):
    """Print and return the largest |z| (where the seeds vary) and relative error of one curve."""
    mean, se, theory = map(lambda a: np.asarray(a, float), (mean, se, theory))
    rel = np.abs(mean - theory) / theory
    z = np.where(se > 0, (mean - theory) / np.where(se > 0, se, 1.0), 0.0)
    print(f"  {label}: max |z| = {np.max(np.abs(z)):.2f}, max rel. err = {np.max(rel):.2%} ({len(mean)} points)")
    return float(np.max(np.abs(z))), float(np.max(rel))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def tail_cut(path, figures: Path | None):
    df = _load(path)
    n, a = int(_const(df, "vocab")), float(_const(df, "zipf_exponent"))
    st = seed_stats(df, ["tail_cut", "samples"])
    print(f"tail cut ({path}): N = {n}, alpha = {a}, seeds {int(st['count'].min())}")
    plt = _plt() if figures else None
    if plt:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ks = sorted(set(st["tail_cut"]))
    cmap = plt.get_cmap("viridis") if plt else None
    for i, k in enumerate(ks):
        s = st[st["tail_cut"] == k].sort_values("samples")
        T = s["samples"].to_numpy(float)
        theory = th.chain_errors(T, n, a, k)
        _score(f"k = {k:g}", s["mean"], s["se"], theory)
        if plt:
            c = cmap(i / max(1, len(ks) - 1))
            ax.errorbar(T, s["mean"], s["se"], fmt="o", ms=3, color=c, label=f"k = {k:g}")
            Tf = np.geomspace(T.min(), T.max(), 60)
            ax.plot(Tf, th.chain_errors(Tf, n, a, k), ":", color=c)
    Tmax = float(st["samples"].max())
    s = st[(st["samples"] == Tmax) & np.isfinite(st["tail_cut"])].sort_values("tail_cut")
    pred = th.predict("tail_cut", th.Slice(params={"zipf_exponent": a, "vocab": n, "samples": Tmax},
                                           axis="tail_cut", xs=tuple(s["tail_cut"])))
    fit = s[(s["tail_cut"] >= pred.valid[0]) & (s["tail_cut"] <= pred.valid[1])]
    slope = float(np.polyfit(np.log(fit["tail_cut"]), np.log(fit["mean"]), 1)[0])
    print(f"  floor at T = {Tmax:g}: fitted exponent in k {slope:+.3f} over k in [{fit['tail_cut'].min():g}, "
          f"{fit['tail_cut'].max():g}] (theory {pred.slope:+.3f}; |diff| {abs(slope - pred.slope):.3f})")
    if plt:
        ax.set(xscale="log", yscale="log", xlabel="T (draws)", ylabel="error",
               title=f"bent scaling law: Hutter memory on tail-cut data (alpha = {a:g})")
        ax.legend(fontsize=7, ncol=2)
        k = s["tail_cut"].to_numpy(float)
        ax2.errorbar(k, s["mean"], s["se"], fmt="o", label=f"simulation, T = {Tmax:g}")
        kf = np.geomspace(k.min(), k.max(), 60)
        ax2.plot(kf, [th.tail_mass(n, a, int(x)) for x in kf], ":", label="floor sum_(i>k) p_i")
        ax2.plot(kf, fit["mean"].iloc[0] * (kf / fit["tail_cut"].iloc[0]) ** pred.slope, "--",
                 label=f"k^{pred.slope:.2f} (fitted {slope:+.3f})")
        ax2.set(xscale="log", yscale="log", xlabel="k (tail cut)", ylabel="error", title="the floor")
        ax2.legend(fontsize=8)
        _save(plt, fig, figures / "tail_cut.png")


def generations(path, figures: Path | None):
    df = _load(path)
    n, a, T = int(_const(df, "vocab")), float(_const(df, "zipf_exponent")), float(_const(df, "samples"))
    k = float(_const(df, "tail_cut"))
    st = seed_stats(df, ["clean_fraction", "generation"])
    print(f"generations ({path}): N = {n}, alpha = {a}, T = {T:g}, k = {k:g}, seeds {int(st['count'].min())}")
    plt = _plt() if figures else None
    if plt:
        fig, ax = plt.subplots(figsize=(6, 4.2))
    for pi in sorted(set(st["clean_fraction"])):
        s = st[st["clean_fraction"] == pi].sort_values("generation")
        g = s["generation"].to_numpy(int)
        theory = np.array([th.chain_error(T, n, a, k, int(x), pi) for x in g])
        _score(f"pi = {pi:g}", s["mean"], s["se"], theory)
        if pi > 0:
            eff = th.effective_samples_factor(pi)
            lim = th.chain_error(eff * T, n, a)
            print(f"    stationary: clean memory at T_eff = pi S(pi) T = {eff:.3f} T: error {lim:.4f}; "
                  f"measured at g = {g.max()}: {s['mean'].iloc[-1]:.4f}")
        if plt:
            x = np.maximum(g, 0.5)  # generation 0 drawn at 0.5 on the log axis
            line = ax.errorbar(x, s["mean"], s["se"], fmt="o", ms=3, label=f"pi = {pi:g}")
            ax.plot(x, theory, ":", color=line[0].get_color())
    if plt:
        ax.set(xscale="log", yscale="log", xlabel="generation (0 drawn at 0.5)", ylabel="error",
               title=f"self-consuming memories (alpha = {a:g}, T = {T:g})\ndotted: branching-process theory")
        ax.legend(fontsize=8)
        _save(plt, fig, figures / "generations.png")


def mixing(path, figures: Path | None):
    df = _load(path)
    n, a, k = int(_const(df, "vocab")), float(_const(df, "zipf_exponent")), float(_const(df, "tail_cut"))
    st = seed_stats(df, ["clean_fraction", "samples"])
    print(f"mixing ({path}): N = {n}, alpha = {a}, k = {k:g}, seeds {int(st['count'].min())}")
    plt = _plt() if figures else None
    if plt:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for pi in sorted(set(st["clean_fraction"])):
        s = st[st["clean_fraction"] == pi].sort_values("samples")
        T = s["samples"].to_numpy(float)
        theory = th.chain_errors(T, n, a, k, 0, pi)
        _score(f"pi = {pi:g}", s["mean"], s["se"], theory)
        if plt:
            line = ax.errorbar(T, s["mean"], s["se"], fmt="o", ms=3, label=f"pi = {pi:g}")
            Tf = np.geomspace(T.min(), T.max(), 60)
            ax.plot(Tf, th.chain_errors(Tf, n, a, k, 0, pi), ":", color=line[0].get_color())
    if plt:
        ax.axhline(th.tail_mass(n, a, k), color="grey", lw=0.8, ls="--", label="floor (pi = 0)")
        ax.set(xscale="log", yscale="log", xlabel="T (draws)", ylabel="error",
               title=f"clean mixing on tail-cut data (k = {k:g}): recovery")
        ax.legend(fontsize=7)
        for T in sorted(set(st["samples"]))[::2]:
            s = st[(st["samples"] == T) & (st["clean_fraction"] > 0)].sort_values("clean_fraction")
            pis = s["clean_fraction"].to_numpy(float)
            line = ax2.errorbar(pis, s["mean"], s["se"], fmt="o", ms=3, label=f"T = {T:g}")
            pf = np.geomspace(pis.min(), pis.max(), 40)
            ax2.plot(pf, [th.chain_error(T, n, a, k, 0, x) for x in pf], ":", color=line[0].get_color())
        ax2.set(xscale="log", yscale="log", xlabel="clean fraction pi", ylabel="error", title="error vs clean fraction")
        ax2.legend(fontsize=7)
        _save(plt, fig, figures / "mixing.png")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tail-cut")
    ap.add_argument("--generations")
    ap.add_argument("--mixing")
    ap.add_argument("--figures", help="directory for the figures (none drawn without it)")
    args = ap.parse_args(argv)
    figures = Path(args.figures) if args.figures else None
    if figures:
        figures.mkdir(parents=True, exist_ok=True)
    if args.tail_cut:
        tail_cut(args.tail_cut, figures)
    if args.generations:
        generations(args.generations, figures)
    if args.mixing:
        mixing(args.mixing, figures)


if __name__ == "__main__":
    main()
