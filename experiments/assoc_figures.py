"""Figures and tables of the associative-memory experiments, from stored results.

    python experiments/assoc_figures.py grid OUT_DIR --figure figures/assoc_trained_grid/grid.png
        error vs d per learning rate (colour) and batch size (panel) at the largest T, the
        reference's grid plots, with the thresholding law of the same vocabulary (dashed);
        prints the fitted d-exponent of every (lr, batch) with its interval.
    python experiments/assoc_figures.py seen OUT_DIR
        store-all-seen at d = inf: seed-mean vs the exact expectation sum_x p(1-p)^T per T, with
        the standard error and the z-score (within sampling error: |z| < 3).
    python experiments/assoc_figures.py joint OUT_DIR
        the joint law error = E + A d^-a + B T^-b fitted over the (d, T) grid (assoc_joint).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from toyscale.fit import fit_scaling
from toyscale.store import ResultStore
from toyscale.theory import associative_memory as th


def grid(out: str, figure: str | None, samples: float | None = None) -> None:
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    df = ResultStore(out).load()
    df = df[df.status == "ok"]
    T = samples or df.samples.max()
    df = df[df.samples == T]
    Bs, lrs = sorted(df.batch_size.unique()), sorted(df.lr.unique())
    N, M, alpha = int(df.vocab.iloc[0]), int(df.classes.iloc[0]), float(df.zipf.iloc[0])
    fig = Figure(figsize=(3.6 * len(Bs), 3.8), dpi=110)
    axes = fig.subplots(1, len(Bs), sharey=True, squeeze=False)[0]
    cmap = colormaps["viridis"]
    ds_all = np.array(sorted(df.width.unique()), float)
    print(f"| batch | lr | fitted d-exponent [95% CI] | error at d = {ds_all[-1]:g} |")
    print("|---|---|---|---|")
    for ax, B in zip(axes, Bs):
        for i, lr in enumerate(lrs):
            s = df[(df.batch_size == B) & (df.lr == lr)]
            piv = s.pivot_table(index="width", columns="seed", values="error")
            xs, Y = piv.index.to_numpy(float), piv.to_numpy(float)
            m, se = Y.mean(1), Y.std(1, ddof=1) / math.sqrt(Y.shape[1])
            ax.errorbar(xs, np.maximum(m, 1e-6), yerr=se, fmt="o-", ms=3, lw=1, color=cmap(i / max(1, len(lrs) - 1)),
                        label=f"lr {lr:g}")
            ok = np.all(Y > 0, axis=1)
            if ok.sum() >= 3:
                f = fit_scaling(xs[ok], Y[ok], law="power", n_boot=300)
                fit = f"{f.slope:+.2f} [{f.ci_low:+.2f}, {f.ci_high:+.2f}] ({ok.sum()} widths)"
            else:
                fit = f"— (error 0 at {int((~ok).sum())} widths)"
            print(f"| {B} | {lr:g} | {fit} | {m[-1]:.4f} |")
        ax.plot(ds_all, np.maximum(th.threshold_error(ds_all, N, alpha, 0.125, M), 1e-6), "k--", lw=1,
                label="thresholding d/8 (N = %d)" % N)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("d")
        ax.set_title(f"batch {B}", fontsize=9)
    axes[0].set_ylabel("error")
    axes[-1].legend(fontsize=6)
    fig.suptitle(f"trained 'matrix' memories, Adam(0,0), lr/d: error vs d at T = {T:g}\n"
                 f"N = {N}, M = {M}, alpha = {alpha:g}; mean ± s.e.m. over seeds; panel = batch, colour = lr; points at 1e-6: error 0",
                 fontsize=9)
    fig.tight_layout()
    if figure:
        Path(figure).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(figure)
        print(f"wrote {figure}")


def seen(out: str) -> None:
    df = ResultStore(out).load()
    df = df[(df.status == "ok") & np.isinf(df.width.astype(float))]
    print("| zipf | T | seeds | mean error | s.e.m. | exact sum_x p(1-p)^T | z |")
    print("|---|---|---|---|---|---|---|")
    for (a, n), g in df.groupby(["zipf", "vocab"]):
        for T, h in g.groupby("samples"):
            e = h.error.to_numpy(float)
            m, se = e.mean(), e.std(ddof=1) / math.sqrt(len(e))
            ex = float(th.store_all_seen_error(T, int(n), float(a)))
            print(f"| {a:g} | {T:g} | {len(e)} | {m:.5f} | {se:.5f} | {ex:.5f} | {(m - ex) / se:+.2f} |")


def joint(out: str) -> None:
    """Fit error = E + A d^-a + B T^-b over the finite (d, T) grid (variable projection; a
    bootstrap over seeds for the intervals) and print it beside the theory a = alpha - 1,
    b = 1 - 1/alpha."""
    from toyscale.fit import fit_joint_vp

    df = ResultStore(out).load()
    df = df[(df.status == "ok") & np.isfinite(df.width.astype(float)) & np.isfinite(df.samples.astype(float))]
    alpha = float(df.zipf.iloc[0])
    m = df.groupby(["width", "samples"]).error.mean().reset_index()
    f = fit_joint_vp(m.width.to_numpy(float), m.samples.to_numpy(float), m.error.to_numpy(float))
    seeds = sorted(df.seed.unique())
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(100):
        pick = rng.choice(seeds, len(seeds))
        b = pd_concat([df[df.seed == s] for s in pick]).groupby(["width", "samples"]).error.mean().reset_index()
        fb = fit_joint_vp(b.width.to_numpy(float), b.samples.to_numpy(float), b.error.to_numpy(float))
        boots.append((fb.a, fb.b))
    lo, hi = np.percentile(np.array(boots), [2.5, 97.5], axis=0)
    print(f"joint law error = E + A d^-a + B T^-b over {len(m)} (d, T) cells, {len(seeds)} seeds:")
    print(f"  a = {f.a:.3f} [{lo[0]:.3f}, {hi[0]:.3f}]  (theory alpha - 1 = {alpha - 1:g})")
    print(f"  b = {f.b:.3f} [{lo[1]:.3f}, {hi[1]:.3f}]  (theory 1 - 1/alpha = {1 - 1 / alpha:g})")
    print(f"  E = {f.E:.2e}, A = {f.A:.3g}, B = {f.B:.3g}")


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("grid", "seen", "joint"))
    ap.add_argument("out")
    ap.add_argument("--figure")
    ap.add_argument("--samples", type=float)
    a = ap.parse_args(argv)
    {"grid": lambda: grid(a.out, a.figure, a.samples), "seen": lambda: seen(a.out), "joint": lambda: joint(a.out)}[a.what]()


if __name__ == "__main__":
    main()
