"""Width slope against the Adam budget, from a stored lottery budget sweep (experiments/lottery_budget.toml).

    toyscale report OUT            # writes OUT/phases.json (the fitted slope in every (steps, adam_lr) cell)
    python experiments/lottery_budget_figures.py OUT --figures figures/lottery_budget

Reads only the stored rows and ``OUT/phases.json``. Writes ``slope_vs_budget.png`` (left: the
fitted width slope of the seed-median test MSE against the number of Adam steps, one line per
learning rate, with its 95 % seed-bootstrap interval, the paper's -1, approximation theory's -4
and 0 drawn; right: the seed-median test MSE against width at every recorded budget, for the
learning rate given by ``--lr``) and ``slope_vs_budget.md`` (the table: budget, learning rate,
slope [95 % CI], median MSE at the smallest and largest width, unconverged rows).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from toyscale.store import ResultStore


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--figures", required=True)
    ap.add_argument("--lr", type=float, default=None, help="learning rate of the right panel (default: the largest)")
    a = ap.parse_args(argv)
    df = ResultStore(a.out).load()
    (ph,) = [p for p in json.loads((Path(a.out) / "phases.json").read_text()) if p["over"] == ["steps", "adam_lr"]]
    steps, lrs = np.asarray(ph["values"][0], float), [float(v) for v in ph["values"][1]]
    fit, lo, hi = (np.asarray(ph["maps"][k], float) for k in ("fitted", "ci_low", "ci_high"))
    figdir = Path(a.figures)
    figdir.mkdir(parents=True, exist_ok=True)
    n_seeds, widths = df.seed.nunique(), sorted(int(w) for w in df.width.unique())

    fig = Figure(figsize=(10.5, 4.2), dpi=110)
    ax, bx = fig.subplots(1, 2)
    for j, lr in enumerate(lrs):
        ax.fill_between(steps, lo[:, j], hi[:, j], color=f"C{j}", alpha=0.2)
        ax.plot(steps, fit[:, j], "o-", color=f"C{j}", ms=3, label=f"Adam lr {lr:g}")
    for v, ls, name in ((-1.0, "--", "N^-1 (Liu & Tegmark)"), (-4.0, ":", "N^-4 (approximation)"), (0.0, "-", "0")):
        ax.axhline(v, color="k", lw=0.8, ls=ls, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("Adam steps (budget)"), ax.set_ylabel("fitted width slope of the median test MSE")
    ax.set_title(f"y = x^2, SiLU, plain MSE, widths {widths[0]}-{widths[-1]}, {n_seeds} seeds\n"
                 "slope per budget, 95% seed-bootstrap interval", fontsize=8)
    ax.legend(fontsize=6)
    lr = a.lr if a.lr is not None else max(lrs)
    s = df[np.isclose(df.adam_lr, lr)]
    cmap = [f"C{k % 10}" for k in range(len(steps))]
    for k, st in enumerate(steps):
        g = s[s.steps == st].groupby("width")["loss"].median()
        bx.plot(g.index, g.to_numpy(), "o-", ms=3, color=cmap[k], lw=1, label=f"{int(st)} steps")
    w = np.asarray(widths, float)
    g0 = s[s.steps == steps[-1]].groupby("width")["loss"].median().to_numpy()
    bx.plot(w, g0[0] * (w / w[0]) ** -1.0, "k--", lw=0.8, label="N^-1")
    bx.set_xscale("log"), bx.set_yscale("log")
    bx.set_xlabel("width N"), bx.set_ylabel("test MSE (median over seeds)")
    bx.set_title(f"Adam lr {lr:g}: median test MSE vs width at each budget", fontsize=8)
    bx.legend(fontsize=5, ncol=2)
    fig.tight_layout()
    fig.savefig(figdir / "slope_vs_budget.png")

    lines = [f"| Adam steps | lr | width slope [95 % CI] | median MSE at N = {widths[0]} | "
             f"median MSE at N = {widths[-1]} | rows not ok |", "|---|---|---|---|---|---|"]
    for i, st in enumerate(steps):
        for j, lr in enumerate(lrs):
            c = s_ = df[(df.steps == st) & np.isclose(df.adam_lr, lr)]
            med = c.groupby("width")["loss"].median()
            lines.append(f"| {int(st)} | {lr:g} | {fit[i, j]:+.2f} [{lo[i, j]:+.2f}, {hi[i, j]:+.2f}] | "
                         f"{med.iloc[0]:.2e} | {med.iloc[-1]:.2e} | {int((s_.status != 'ok').sum())} / {len(s_)} |")
    (figdir / "slope_vs_budget.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
