"""Throughput of the lottery grid: toyscale (one vmapped program per width) vs one network at a time.

The same widths x seeds grid, the same protocol (full-batch Adam, then optax L-BFGS, float64),
the same model functions, in one process:

* ``toyscale``: ``toyscale.sweep.run_experiment`` -- ``jit(vmap(evaluate))`` over every seed of
  a width, rows written to a result store (as a user runs it);
* ``looped``: ``jit(train)`` for ONE network, called once per (width, seed) in a Python loop
  (compiled once per width; the seed is traced).

Both are timed warm (a first untimed pass compiles; toyscale's second run into a new directory
compiles nothing), ``--repeats`` times, median printed. Agreement: the Adam phase is bitwise
the same in any vmapped batch (fixed-order sums), so the training loss at ``adam_steps`` must
match exactly; after L-BFGS, which amplifies last-bit differences of its XLA reductions, the
per-width medians over seeds are compared (docs/theory.md §3).

    python benchmarks/bench_lottery.py                 # CPU-sized default
    python benchmarks/bench_lottery.py --widths 8 16 32 64 128 --seeds 16 --adam 20000 --lbfgs 3000
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

import toyscale  # noqa: F401  (XLA CPU workaround before the backend starts)
from toyscale.experiment import experiment_from_dict
from toyscale.models import lottery as L
from toyscale.store import ResultStore
from toyscale.sweep import run_experiment


def experiment(a):
    return experiment_from_dict({"model": "lottery", "seeds": a.seeds, "precision": "float64",
                                 "params": {"n_train": a.n_train, "n_test": 1001, "adam_steps": a.adam,
                                            "lbfgs_steps": a.lbfgs, "adam_lr": a.lr, "activation": a.activation},
                                 "sweep": {"width": a.widths, "steps": [a.adam, a.adam + a.lbfgs]}}, name="bench")


def run_toyscale(a):
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        run_experiment(experiment(a), d, progress=False)
        dt = time.perf_counter() - t
        df = ResultStore(d).load()
    return dt, {(int(r.width), int(r.seed), int(r.steps)): r.train_loss for r in df.itertuples()}


def run_looped(a, fns):
    out = {}
    t = time.perf_counter()
    with jax.enable_x64(True):
        for w in a.widths:
            dyn = {"width": jnp.int32(w), "interval": jnp.float64(2.0), "init_scale": jnp.float64(1.0),
                   "adam_lr": jnp.float64(a.lr)}
            for s in range(a.seeds):
                curve = np.asarray(fns[w](dyn, jnp.uint32(s)))
                out[w, s, a.adam], out[w, s, a.adam + a.lbfgs] = curve[a.adam], curve[-1]
    return time.perf_counter() - t, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32, 64])
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--adam", type=int, default=2000)
    ap.add_argument("--lbfgs", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--n-train", type=int, default=128)
    ap.add_argument("--activation", default="silu")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    print(f"lottery grid: widths {a.widths} x {a.seeds} seeds, Adam {a.adam} + L-BFGS {a.lbfgs}, "
          f"n_train {a.n_train}, {a.activation}; {platform.processor() or platform.machine()}, "
          f"{jax.devices()[0].platform}")
    with jax.enable_x64(True):
        fns = {}
        for w in a.widths:
            static = {"target": "x2", "activation": a.activation, "width": w, "n_train": a.n_train, "n_test": 1001,
                      "adam_steps": a.adam, "lbfgs_steps": a.lbfgs}
            fns[w] = jax.jit(lambda dyn, seed, static=static: L.train(static, dyn, jax.random.key(seed))[1])
    t = time.perf_counter()
    run_toyscale(a)
    c1 = time.perf_counter() - t
    t = time.perf_counter()
    run_looped(a, fns)
    c2 = time.perf_counter() - t
    print(f"first (compiling) pass: toyscale {c1:.1f} s, looped {c2:.1f} s")
    ts, lp = [], []
    for _ in range(a.repeats):
        dt, rows = run_toyscale(a)
        ts.append(dt)
        dt, loop = run_looped(a, fns)
        lp.append(dt)
    mt, ml = float(np.median(ts)), float(np.median(lp))
    adam = np.array([[rows[w, s, a.adam], loop[w, s, a.adam]] for w in a.widths for s in range(a.seeds)])
    rel = np.abs(adam[:, 0] - adam[:, 1]) / adam[:, 1]
    print(f"agreement at the end of Adam (step {a.adam}): max relative difference {rel.max():.1e} "
          f"({'bitwise equal' if rel.max() == 0 else 'NOT bitwise'})")
    end = a.adam + a.lbfgs
    for w in a.widths:
        x = np.array([rows[w, s, end] for s in range(a.seeds)])
        y = np.array([loop[w, s, end] for s in range(a.seeds)])
        print(f"  width {w:4d} after L-BFGS: median train MSE toyscale {np.median(x):.3e}, looped {np.median(y):.3e}; "
              f"runs equal to 1e-9: {int(np.sum(np.abs(x - y) <= 1e-9 * np.abs(y)))}/{a.seeds}")
    print(f"warm wall time (median of {a.repeats}): toyscale {mt:.2f} s, looped {ml:.2f} s; ratio {ml / mt:.1f}x "
          f"(target >= 5x)")
    n_equal = sum(int(np.sum(np.abs(np.array([rows[w, s, end] for s in range(a.seeds)])
                                        - np.array([loop[w, s, end] for s in range(a.seeds)]))
                                 <= 1e-9 * np.abs(np.array([loop[w, s, end] for s in range(a.seeds)]))))
                  for w in a.widths)
    return {"model": "lottery",
            "what": f"widths {a.widths} × {a.seeds} seeds, Adam {a.adam} + L-BFGS {a.lbfgs}, n_train {a.n_train}, "
                    f"{a.activation}, float64; loop: the same jitted training, one network at a time",
            "toyscale_s": mt, "loop_s": ml, "compile_s": max(0.0, c1 - mt), "flops": None, "precision": "float64",
            "growth": None,
            "check": f"end of Adam max rel. diff {rel.max():.1e}; after L-BFGS {n_equal}/{len(a.widths) * a.seeds} "
                     "runs equal to 1e-9"}


def benchmark(quick: bool = False) -> dict:
    """``benchmarks/run_all.py`` interface: the default grid (quick: 2 widths × 4 seeds, short)."""
    return main(["--widths", "8", "16", "--seeds", "4", "--adam", "500", "--lbfgs", "50", "--repeats", "1"]
                if quick else [])


if __name__ == "__main__":
    main()
