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
    python experiments/assoc_figures.py capacity TRAINED_DIR SCHEMES_DIR --figure F.png
        trained memories where capacity binds (assoc_capacity) against the closed-form schemes of
        the same seeds (assoc_capacity_schemes): a scored distance per scheme and the nearest.
    python experiments/assoc_figures.py embeddings OUT_DIR --figure F.png
        learned vs fixed random embeddings (assoc_embeddings) against the random-embedding bound.
    python experiments/assoc_figures.py rho OUT_DIR
        q = p^rho (assoc_rho): how far the recall threshold moves, and the guarded d-exponents.

Every d-exponent printed here passes the report's validity guard (a decade of d, no zero error).
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
            fit = guarded_fit(xs, Y)
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


def guarded_fit(xs, Y, min_decades: float = 1.0) -> str:
    """The fitted d-exponent of a ``(widths, seeds)`` table with its interval, or why there is
    none: the report's validity guard (toyscale.analysis.checks) -- every seed's error above 0
    at every width, and the widths spanning at least ``min_decades`` decades."""
    zero = ~np.all(Y > 0, axis=1)
    if zero.any():
        return f"— (error 0 at d = {', '.join(f'{x:g}' for x in xs[zero])}: a wall, no exponent)"
    if np.log10(xs.max() / xs.min()) < min_decades - 1e-9:
        return f"— ({np.log10(xs.max() / xs.min()):.2f} decades of d: no exponent)"
    f = fit_scaling(xs, Y, law="power", n_boot=300)
    return f"{f.slope:+.2f} [{f.ci_low:+.2f}, {f.ci_high:+.2f}]"


#: A trained memory "follows" a closed-form scheme when the median |log10 ratio| is at most this.
FOLLOWS = 0.1


def _mean_curve(df, by=("width",)):
    """Seed-mean error per value of ``by`` (a Series indexed by it)."""
    return df.groupby(list(by)).error.mean()


def capacity(trained: str, schemes: str, figure: str | None) -> None:
    """Place each trained memory (optimizer, lr, batch) against the closed-form schemes of the
    same seeds, embeddings and samples: distance = median over the whole (d, T) grid of
    |log10(error_trained / error_scheme)| (decades; a zero error counts as the smallest token
    mass, the error's resolution), and the nearest scheme. Also per T, the d-exponent of the
    trained curve under the validity guard, and the same for each scheme."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    tr = ResultStore(trained).load()
    tr = tr[tr.status == "ok"]
    sc = ResultStore(schemes).load()
    sc = sc[sc.status == "ok"]
    N, M, alpha = int(tr.vocab.iloc[0]), int(tr.classes.iloc[0]), float(tr.zipf.iloc[0])
    floor = float(th.zipf_probs(N, alpha)[-1])
    seeds = sorted(set(tr.seed) & set(sc.seed))
    tr, sc = tr[tr.seed.isin(seeds)], sc[sc.seed.isin(seeds)]
    fin = np.isfinite(sc.width.astype(float))
    refs = {"thresholding d/8": sc[fin & (sc.scheme == "threshold") & (sc.rho == sc.rho.min())]}
    for r in sorted(sc[sc.scheme == "frequency"].rho.unique()):
        refs["store all seen (q = 1)" if r == 0 else f"q = p̂^{r:g}"] = sc[fin & (sc.scheme == "frequency") & (sc.rho == r)]
    seen_inf = _mean_curve(sc[~fin & (sc.scheme == "frequency") & (sc.rho == 0)], ("samples",))
    ref_curves = {k: _mean_curve(v, ("width", "samples")) for k, v in refs.items()}
    Ts = sorted(tr.samples.unique())
    idx = ref_curves["thresholding d/8"].index
    bound = "random-embedding bound"
    ref_curves[bound] = pd_series([float(th.random_embedding_bound(d, N, alpha, M, T)) for d, T in idx], idx)
    runs = sorted({(o, lr, B) for o, lr, B in zip(tr.optimizer, tr.lr, tr.batch_size)})
    names = list(ref_curves)
    print(f"N = {N}, M = {M}, alpha = {alpha:g}, {len(seeds)} seeds; distance = median |log10(trained / scheme)| "
          f"over d = {', '.join(f'{d:g}' for d in sorted(tr.width.unique()))} x T = {', '.join(f'{t:g}' for t in Ts)} "
          f"(decades; error 0 counted as {floor:.1e}); a memory follows a scheme when the distance is "
          f"<= {FOLLOWS} (a factor {10 ** FOLLOWS:.2f})\n")
    print("| optimizer | lr | batch | " + " | ".join(names) + " | nearest | d-exponent at T = %g [95%% CI] |" % Ts[-1])
    print("|---|---|---|" + "---|" * len(names) + "---|---|")
    curves = {}
    for o, lr, B in runs:
        g = tr[(tr.optimizer == o) & (tr.lr == lr) & (tr.batch_size == B)]
        m = _mean_curve(g, ("width", "samples"))
        curves[(o, lr, B)] = m
        dist = {}
        for k in names:
            ref = ref_curves[k].reindex(m.index)
            dist[k] = float(np.median(np.abs(np.log10(np.maximum(m.to_numpy(), floor) /
                                                      np.maximum(ref.to_numpy(), floor)))))
        best = min(dist, key=dist.get)
        best = best if dist[best] <= FOLLOWS else f"none (nearest: {best})"
        last = g[g.samples == Ts[-1]].pivot_table(index="width", columns="seed", values="error")
        print(f"| {o} | {lr:g} | {int(B)} | " + " | ".join(f"{dist[k]:.2f}" for k in names)
              + f" | {best} | {guarded_fit(last.index.to_numpy(float), last.to_numpy(float))} |")
    print("\nclosed-form schemes, d-exponent at each T (guarded):")
    for k in refs:
        line = []
        for T in Ts:
            piv = refs[k][refs[k].samples == T].pivot_table(index="width", columns="seed", values="error")
            line.append(f"T = {T:g}: {guarded_fit(piv.index.to_numpy(float), piv.to_numpy(float))}")
        print(f"- {k}: " + "; ".join(line))
    print("- store all seen at d = inf (floor): " + ", ".join(f"T = {T:g}: {seen_inf.get(T, np.nan):.2e}" for T in Ts))
    if not figure:
        return
    fig = Figure(figsize=(3.8 * len(Ts), 4.0), dpi=110)
    axes = fig.subplots(1, len(Ts), sharey=True, squeeze=False)[0]
    lrs = sorted({lr for _, lr, _ in runs})
    cmap = colormaps["viridis"]
    styles = {"adam": "-", "sgd": ":"}
    ref_style = dict(zip(names, ["--", "-.", (0, (5, 1, 1, 1)), (0, (1, 1)), "-"]))
    for ax, T in zip(axes, Ts):
        for k in names:
            c = ref_curves[k].xs(T, level="samples")
            ax.plot(c.index, np.maximum(c.to_numpy(), floor), color="red" if k == bound else "k", ls=ref_style[k],
                    lw=1.2, label=k)
        if T in seen_inf.index:
            ax.axhline(seen_inf[T], color="grey", lw=0.8, label="d = inf (seen tokens; unseen wrong)")
        for (o, lr, B), m in curves.items():
            c = m.xs(T, level="samples")
            ax.plot(c.index, np.maximum(c.to_numpy(), floor), styles.get(o, "-"), marker="o", ms=2.5, lw=1,
                    color=cmap(lrs.index(lr) / max(1, len(lrs) - 1)), alpha=0.9 if B == max(b for *_, b in runs) else 0.5,
                    label=f"{o} lr {lr:g} batch {int(B)}")
    _save_panels(fig, axes, Ts, axes[0], figure,
                 f"trained 'matrix' memories (colour = lr, solid = Adam(0,0), dotted = SGD) against the closed-form "
                 f"schemes (black), N = {N}, M = {M}, alpha = {alpha:g}; seed means")


def _save_panels(fig, axes, Ts, legend_ax, figure: str, title: str, ds=None) -> None:
    """Log-log error-vs-d panels, one per T: labels (ticks at ``ds`` if given), legend, title;
    saved to ``figure``."""
    from matplotlib.ticker import NullFormatter

    for ax, T in zip(axes, Ts):
        ax.set_xscale("log")
        ax.set_yscale("log")
        if ds is not None:
            ax.set_xticks(list(ds), [f"{d:g}" for d in ds])
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("d")
        ax.set_title(f"T = {T:g}", fontsize=9)
    axes[0].set_ylabel("error")
    legend_ax.legend(fontsize=5.5, loc="lower left", ncol=2)
    fig.suptitle(title, fontsize=8.5)
    fig.tight_layout()
    Path(figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure)
    print(f"wrote {figure}")


def embeddings(out: str, figure: str | None) -> None:
    """Learned vs random embeddings (assoc_embeddings): per variant and lr, the seed-mean error at
    each (d, T) against the random-embedding bound (1-1/M)[mass outside the top d(M-1) seen
    tokens] and the seen-token floor (1-1/M) sum_x p(1-p)^T; ``ratio`` = error / bound (< 1:
    the memory holds more than a fixed random embedding allows)."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    df = ResultStore(out).load()
    n_bad = int((df.status != "ok").sum())
    df = df[df.status == "ok"]
    N, M, alpha = int(df.vocab.iloc[0]), int(df.classes.iloc[0]), float(df.zipf.iloc[0])
    Ts, ds = sorted(df.samples.unique()), sorted(df.width.unique())
    variants, lrs = sorted(df.variant.unique()), sorted(df.lr.unique())
    print(f"N = {N}, M = {M}, alpha = {alpha:g}, {df.seed.nunique()} seeds, {n_bad} rows not ok; "
          "cells: seed-mean error (error / random-embedding bound)\n")
    for T in Ts:
        bound = th.random_embedding_bound(np.array(ds), N, alpha, M, T)
        floor = (1 - 1 / M) * float(th.store_all_seen_error(T, N, alpha))
        print(f"T = {T:g}: seen-token floor {floor:.2e}")
        print("| variant | lr | " + " | ".join(f"d = {d:g}" for d in ds) + " |")
        print("|---|---|" + "---|" * len(ds))
        print("| random-embedding bound | | " + " | ".join(f"{b:.2e}" for b in bound) + " |")
        for v in variants:
            for lr in lrs:
                m = df[(df.variant == v) & (df.lr == lr) & (df.samples == T)].groupby("width").error.mean()
                m = m.reindex(ds).to_numpy()
                print(f"| {v} | {lr:g} | " + " | ".join(f"{e:.2e} ({e / b:.2f})" for e, b in zip(m, bound)) + " |")
        print()
    if not figure:
        return
    fig = Figure(figsize=(3.8 * len(Ts), 4.0), dpi=110)
    axes = fig.subplots(1, len(Ts), sharey=True, squeeze=False)[0]
    cmap = colormaps["plasma"]
    styles = {"matrix": "o-", "learnable": "s--", "exponential": "^:"}
    dd = np.geomspace(min(ds), max(ds), 50)
    for ax, T in zip(axes, Ts):
        ax.plot(dd, th.random_embedding_bound(dd, N, alpha, M, T), "k-", lw=1.5, label="random-embedding bound")
        ax.axhline((1 - 1 / M) * float(th.store_all_seen_error(T, N, alpha)), color="grey", lw=0.8,
                   label="seen-token floor")
        for v in variants:
            for i, lr in enumerate(lrs):
                m = df[(df.variant == v) & (df.lr == lr) & (df.samples == T)].groupby("width").error.mean()
                ax.plot(m.index, np.maximum(m.to_numpy(), 1e-6), styles.get(v, "o-"), ms=3, lw=1,
                        color=cmap(0.85 * i / max(1, len(lrs) - 1)), label=f"{v} lr {lr:g}")
    _save_panels(fig, axes, Ts, axes[0], figure,
                 f"learned (learnable, exponential) vs fixed random embeddings (matrix), Adam(0,0); N = {N}, M = {M}, "
                 f"alpha = {alpha:g}; seed means", ds=ds)


def rho(out: str, figure: str | None) -> None:
    """q = p^rho at T = inf (assoc_rho): per rho the implied recall threshold x* (the number of
    tokens whose tail mass equals the error: (1-1/M) sum_(x >= x*) p(x) = error) at each d, and
    how many decades it moves over the swept d; the d-exponent with its interval (guarded)."""
    df = ResultStore(out).load()
    df = df[df.status == "ok"]
    N, M, alpha = int(df.vocab.iloc[0]), int(df.classes.iloc[0]), float(df.zipf.iloc[0])
    p = th.zipf_probs(N, alpha)
    tail = (1 - 1 / M) * (1.0 - np.concatenate([[0.0], np.cumsum(p)]))  # tail[k]: mass from token k on
    print("| rho | theory | d-exponent [95% CI] | x* at the smallest / largest d | x* moves (decades) |")
    print("|---|---|---|---|---|")
    for r, g in df.groupby("rho"):
        piv = g.pivot_table(index="width", columns="seed", values="error")
        m = piv.mean(axis=1)
        xstar = [int(np.searchsorted(-tail, -e)) for e in m.to_numpy()]
        s = th.d_exponent("frequency", alpha, float(r))
        mv = math.log10(xstar[-1] / max(xstar[0], 1))
        print(f"| {r:g} | {s:+.3f} | {guarded_fit(piv.index.to_numpy(float), piv.to_numpy(float))} | "
              f"{xstar[0]} / {xstar[-1]} | {mv:.2f} |")


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


def pd_series(values, index):
    import pandas as pd

    return pd.Series(values, index=index)


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("grid", "seen", "joint", "capacity", "embeddings", "rho"))
    ap.add_argument("out")
    ap.add_argument("schemes", nargs="?", help="capacity: the closed-form results of the same seeds")
    ap.add_argument("--figure")
    ap.add_argument("--samples", type=float)
    a = ap.parse_args(argv)
    {"grid": lambda: grid(a.out, a.figure, a.samples), "seen": lambda: seen(a.out), "joint": lambda: joint(a.out),
     "capacity": lambda: capacity(a.out, a.schemes, a.figure), "embeddings": lambda: embeddings(a.out, a.figure),
     "rho": lambda: rho(a.out, a.figure)}[a.what]()


if __name__ == "__main__":
    main()
