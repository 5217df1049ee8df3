"""Width slope against the Adam budget, from a stored lottery budget sweep (experiments/lottery_budget.toml).

    toyscale report OUT            # writes OUT/phases.json (the fitted slope in every (steps, adam_lr) cell)
    python experiments/lottery_budget_figures.py OUT [OUT2 ...] --figures figures/lottery_budget

Reads only the stored rows and ``OUT/phases.json`` of each run. Writes ``slope_vs_budget.png``
(left: the fitted width slope of the seed-median test MSE against the number of Adam steps, one
line per (run, learning rate), with its 95 % seed-bootstrap interval, the paper's -1,
approximation theory's -4 and 0 drawn; right: the seed-median test MSE against width at every
recorded budget of the first run, for the learning rate given by ``--lr``) and
``slope_vs_budget.md`` (one table per run: budget, learning rate, slope [95 % CI], median MSE at
the smallest and largest width, rows whose status is not ``ok``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from toyscale.store import ResultStore


def load(out):
    """Rows, the (steps, adam_lr) phase map and its axes of one stored run."""
    df = ResultStore(out).load()
    (ph,) = [p for p in json.loads((Path(out) / "phases.json").read_text()) if p["over"] == ["steps", "adam_lr"]]
    steps, lrs = np.asarray(ph["values"][0], float), [float(v) for v in ph["values"][1]]
    fit, lo, hi = (np.asarray(ph["maps"][k], float) for k in ("fitted", "ci_low", "ci_high"))
    return df, steps, lrs, fit, lo, hi


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="+", help="stored runs (the first one is drawn in the right panel)")
    ap.add_argument("--figures", required=True)
    ap.add_argument("--lr", type=float, default=None, help="learning rate of the right panel (default: the smallest)")
    a = ap.parse_args(argv)
    runs = [load(o) for o in a.out]
    figdir = Path(a.figures)
    figdir.mkdir(parents=True, exist_ok=True)

    fig = Figure(figsize=(10.5, 4.2), dpi=110)
    ax, bx = fig.subplots(1, 2)
    c = 0
    for r, (df, steps, lrs, fit, lo, hi) in enumerate(runs):
        n_seeds, widths = df.seed.nunique(), sorted(int(w) for w in df.width.unique())
        for j, lr in enumerate(lrs):
            style = "o-" if r == 0 else "s:"
            ax.fill_between(steps, lo[:, j], hi[:, j], color=f"C{c}", alpha=0.2 if r == 0 else 0.1)
            ax.plot(steps, fit[:, j], style, color=f"C{c}", ms=3,
                    label=f"lr {lr:g}, {n_seeds} seeds, N {widths[0]}-{widths[-1]}, to {int(steps[-1]):.0e} steps")
            c += 1
    for v, ls, name in ((-1.0, "--", "N^-1 (Liu & Tegmark)"), (-4.0, ":", "N^-4 (approximation)"), (0.0, "-", "0")):
        ax.axhline(v, color="k", lw=0.8, ls=ls, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("Adam steps (budget)"), ax.set_ylabel("fitted width slope of the median test MSE")
    ax.set_title("y = x^2, SiLU, 128 grid points, plain MSE, Adam only (float64)\n"
                 "slope per budget, 95% seed-bootstrap interval", fontsize=8)
    ax.legend(fontsize=5.5)
    df, steps, lrs, fit, lo, hi = runs[0]
    widths = sorted(int(w) for w in df.width.unique())
    lr = a.lr if a.lr is not None else min(lrs)
    s = df[np.isclose(df.adam_lr, lr)]
    for k, st in enumerate(steps):
        g = s[s.steps == st].groupby("width")["loss"].median()
        bx.plot(g.index, g.to_numpy(), "o-", ms=3, color=f"C{k % 10}", lw=1, label=f"{int(st)} steps")
    w = np.asarray(widths, float)
    g0 = s[s.steps == steps[-1]].groupby("width")["loss"].median().to_numpy()
    bx.plot(w, g0[0] * (w / w[0]) ** -1.0, "k--", lw=0.8, label="N^-1")
    bx.set_xscale("log"), bx.set_yscale("log")
    bx.set_xlabel("width N"), bx.set_ylabel("test MSE (median over seeds)")
    bx.set_title(f"Adam lr {lr:g}: median test MSE vs width at each budget", fontsize=8)
    bx.legend(fontsize=5, ncol=2)
    fig.tight_layout()
    fig.savefig(figdir / "slope_vs_budget.png")

    lines = []
    for o, (df, steps, lrs, fit, lo, hi) in zip(a.out, runs):
        widths = sorted(int(w) for w in df.width.unique())
        lines += ["", f"`{o}` ({df.seed.nunique()} seeds):", "",
                  f"| Adam steps | lr | width slope [95 % CI] | median MSE at N = {widths[0]} | "
                  f"median MSE at N = {widths[-1]} | rows not ok |", "|---|---|---|---|---|---|"]
        for i, st in enumerate(steps):
            for j, lr in enumerate(lrs):
                c = df[(df.steps == st) & np.isclose(df.adam_lr, lr)]
                med = c.groupby("width")["loss"].median()
                lines.append(f"| {int(st)} | {lr:g} | {fit[i, j]:+.2f} [{lo[i, j]:+.2f}, {hi[i, j]:+.2f}] | "
                             f"{med.iloc[0]:.2e} | {med.iloc[-1]:.2e} | {int((c.status != 'ok').sum())} / {len(c)} |")
    (figdir / "slope_vs_budget.md").write_text("\n".join(lines[1:]) + "\n")
    print("\n".join(lines[1:]))


if __name__ == "__main__":
    main()
