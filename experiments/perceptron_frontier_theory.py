"""Data-pruning perceptron: the replica Pareto frontier for imperfect probes (theta > 0), stored.

Solves the saddle point (toyscale.theory.perceptron.saddle_point) on a grid of kept-set sizes
alpha_prune, kept fractions f (pools alpha_tot = alpha_prune / f) and both rules, for each probe
angle, and writes every value to a JSON table (NaN where the solver did not converge: never a
guess). ``experiments/perceptron_figures.py --theory-frontier FILE`` reads it, prints the best f
along the envelope, the minimum useful f and the log-log slope at large alpha_prune, and draws
the figure. Float64 on the CPU; minutes per angle.

Usage::

    python experiments/perceptron_frontier_theory.py --out results/perceptron_frontier_theory/table.json
    python experiments/perceptron_frontier_theory.py --discrete-grid   # theta = 0, a figure's f grid

``--discrete-grid``: the theta = 0 envelope over a few offered fractions (as a figure shows them:
f in {0.1, 0.2, 0.4, 0.6, 0.8, 1} and {0.2, ..., 1}) on alpha_prune in [0.5, 12]: which f is best
at each alpha_prune (successive f taking over would make an envelope steeper than any one
curve), and least-squares fits of log eps linear in alpha_prune (exponential) and in
log alpha_prune (power law) over two windows, with their residual sums of squares.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from toyscale.theory import perceptron as th

ALPHA_PRUNE = [2.0, 8.0, 32.0, 128.0]
FRACTIONS = [1 / 256, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0]
THETAS = [0.17, 0.3]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out")
    ap.add_argument("--discrete-grid", action="store_true")
    ap.add_argument("--thetas", type=float, nargs="+", default=THETAS)
    a = ap.parse_args(argv)
    if a.discrete_grid:
        return discrete_grid()
    if not a.out:
        ap.error("--out is required (or --discrete-grid)")
    T, A, F = (v.ravel() for v in np.meshgrid(a.thetas, ALPHA_PRUNE, FRACTIONS, indexing="ij"))
    table = {"alpha_prune": ALPHA_PRUNE, "fractions": FRACTIONS, "thetas": a.thetas, "error": {}}
    for rule in ("hard", "easy"):  # one batched solve per rule (all angles, sizes and fractions)
        t0 = time.time()
        e = th.saddle_point(A / F, rule, F, T)["error"].reshape(len(a.thetas), len(ALPHA_PRUNE), len(FRACTIONS))
        for i, theta in enumerate(a.thetas):
            table["error"][f"{theta:g}/{rule}"] = [[None if not np.isfinite(x) else float(x) for x in row] for row in e[i]]
        print(f"keep-{rule}: {np.isfinite(e).sum()} of {e.size} solved, {time.time() - t0:.0f} s", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(table, indent=1))


def discrete_grid():
    grid = np.linspace(0.5, 12.0, 47)
    for fr in ([0.1, 0.2, 0.4, 0.6, 0.8, 1.0], [0.2, 0.4, 0.6, 0.8, 1.0]):
        e, f, r = th.pareto_frontier(grid, 0.0, fractions=np.asarray(fr), rules=("hard", "easy"))
        smallest = np.isclose(f, fr[0])
        print(f"theta = 0, f in {fr}: the smallest f is the best at {int(smallest.sum())} of {len(grid)} alpha_prune in "
              f"[{grid[0]:g}, {grid[-1]:g}] (keep-easy up to alpha_prune = {grid[r == 'easy'].max():g}, keep-hard from "
              f"{grid[r == 'hard'].min():g})")
        for lo, hi in ((2.0, 8.0), (4.0, 12.0)):
            sel = (grid >= lo) & (grid <= hi)
            x, y = grid[sel], np.log(e[sel])
            (b1, _), rss1 = np.polyfit(x, y, 1, full=True)[:2]
            (b2, _), rss2 = np.polyfit(np.log(x), y, 1, full=True)[:2]
            print(f"  alpha_prune in [{lo:g}, {hi:g}]: exponential fit rate {b1:.3f}, residual {float(rss1[0]):.2e}; "
                  f"power-law fit slope {b2:.3f}, residual {float(rss2[0]):.2e}")


if __name__ == "__main__":
    main()
