"""Data-pruning perceptron: the replica Pareto frontier for imperfect probes (theta > 0), stored.

Solves the saddle point (toyscale.theory.perceptron.saddle_point) on a grid of kept-set sizes
alpha_prune, kept fractions f (pools alpha_tot = alpha_prune / f) and both rules, for each probe
angle, and writes every value to a JSON table (NaN where the solver did not converge: never a
guess). ``experiments/perceptron_figures.py --theory-frontier FILE`` reads it, prints the best f
along the envelope, the minimum useful f and the log-log slope at large alpha_prune, and draws
the figure. Float64 on the CPU; minutes per angle.

Usage::

    python experiments/perceptron_frontier_theory.py --out results/perceptron_frontier_theory/table.json
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
    ap.add_argument("--out", required=True)
    ap.add_argument("--thetas", type=float, nargs="+", default=THETAS)
    a = ap.parse_args(argv)
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


if __name__ == "__main__":
    main()
