"""K-ensembles of width-n networks against one width-Kn network, from stored lottery rows.

    python experiments/lottery_ensemble.py OUT --figures figures/lottery_ensemble

``OUT`` holds rows of the lottery model swept over ``width`` and ``ensemble``
(experiments/lottery_ensemble.toml). For every recorded budget and every pair ``(n, K)`` with
``K > 1`` and ``K n`` among the stored widths, compares the seed-median test MSE of the
K-average of width-n networks (``ensemble = K, width = n``) with that of one width-Kn network
(``ensemble = 1, width = Kn``): the ratio ``single / ensemble`` with a 95 % bootstrap interval
(the seeds of the two groups resampled independently, 2 000 resamples, fixed generator). Beside
it the ensemble's gain over its own members, ``median(loss / member_loss)`` (``1/K`` when the
members' errors are independent and zero-mean). Writes ``ensemble.png`` and ``ensemble.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from toyscale.store import ResultStore

N_BOOT = 2000


def ratio_ci(num: np.ndarray, den: np.ndarray, rng) -> tuple[float, float, float]:
    """``median(num) / median(den)`` and its 95 % percentile interval over independent seed resamples."""
    r = np.median(num) / np.median(den)
    bn = np.median(rng.choice(num, (N_BOOT, len(num))), axis=1)
    bd = np.median(rng.choice(den, (N_BOOT, len(den))), axis=1)
    lo, hi = np.percentile(bn / bd, [2.5, 97.5])
    return float(r), float(lo), float(hi)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--figures", required=True)
    a = ap.parse_args(argv)
    df = ResultStore(a.out).load()
    rng = np.random.default_rng(0)
    widths, Ks, budgets = ([sorted(int(v) for v in df[c].unique()) for c in ("width", "ensemble", "steps")])
    figdir = Path(a.figures)
    figdir.mkdir(parents=True, exist_ok=True)
    lines = ["| Adam steps | n | K | Kn | median MSE, K-ensemble of width n | median MSE, one width-Kn net | "
             "single / ensemble [95 % CI] | ensemble / its members (1/K if independent) |",
             "|---|---|---|---|---|---|---|---|"]
    fig = Figure(figsize=(4.0 * len(budgets), 3.8), dpi=110)
    axes = fig.subplots(1, len(budgets), squeeze=False)[0]
    for ax, st in zip(axes, budgets):
        d = df[df.steps == st]
        for i, n in enumerate(widths):
            ks, ens, single = [], [], []
            for K in Ks:
                if K * n not in widths:
                    continue
                e = d[(d.width == n) & (d.ensemble == K)]
                s = d[(d.width == K * n) & (d.ensemble == 1)]
                ks.append(K), ens.append(e.loss.median()), single.append(s.loss.median())
                if K > 1:
                    r, lo, hi = ratio_ci(s.loss.to_numpy(), e.loss.to_numpy(), rng)
                    gain = float(np.median(e.loss / e.member_loss))
                    lines.append(f"| {st} | {n} | {K} | {K * n} | {e.loss.median():.2e} | {s.loss.median():.2e} | "
                                 f"{r:.2f} [{lo:.2f}, {hi:.2f}] | {gain:.2f} (1/K = {1 / K:.2f}) |")
            if len(ks) > 1:
                ax.plot(ks, ens, "o-", color=f"C{i}", ms=4, label=f"K-average of width {n}")
                ax.plot(ks, single, "s--", color=f"C{i}", ms=4, label=f"one width-{n}K network")
        ax.set_xscale("log", base=2), ax.set_yscale("log")
        ax.set_xlabel("K (parameter count ~ 3Kn)"), ax.set_ylabel("test MSE (median over seeds)")
        ax.set_title(f"{st} Adam steps: K-ensemble vs one wide network", fontsize=8)
        ax.legend(fontsize=5)
    fig.tight_layout()
    fig.savefig(figdir / "ensemble.png")
    (figdir / "ensemble.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
