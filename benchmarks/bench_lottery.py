"""Throughput of the lottery grid: toyscale vs training one network at a time.

The same widths x seeds grid, the same protocol (full-batch Adam, then Levenberg-Marquardt to
its own stop, on MSE + weight decay, float64), the same model functions, in one process:

* ``toyscale``: ``toyscale.sweep.run_experiment`` -- the engine runs the cells of a width
  through one compiled program (``lax.map`` of one cell, ``Model.sequential_cells``), rows
  written to a result store, as a user runs it;
* ``per-step loop``: how a training script is usually written (optax's documented pattern):
  a Python loop over steps calling a jitted Adam step, then a jitted LM step until LM reports
  that it stopped, one network after another;
* ``compiled loop``: ``jit(evaluate)`` for ONE network (the whole training one compiled program,
  compiled once per width, seed traced), called once per (width, seed).

All timed warm (a first untimed pass compiles), ``--repeats`` times, median printed; the ratio
against each loop is printed. Agreement: both loops run the model's own functions, compiled in
another program (XLA may fuse differently, so the last bits differ and LM may settle a run at a
neighbouring stationary point); the final test MSE is compared per run.

    python benchmarks/bench_lottery.py
    python benchmarks/bench_lottery.py --widths 8 16 32 64 128 --seeds 16 --adam 2000 --polish 4000
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import toyscale  # noqa: F401  (XLA CPU workaround before the backend starts)
from toyscale.experiment import experiment_from_dict
from toyscale.models import lottery as L
from toyscale.store import ResultStore
from toyscale.sweep import run_experiment


def experiment(a):
    return experiment_from_dict({"model": "lottery", "seeds": a.seeds, "precision": "float64",
                                 "params": {"n_train": a.n_train, "n_test": 1001, "adam_steps": a.adam,
                                            "polish": "lm", "polish_steps": a.polish, "adam_lr": a.lr,
                                            "weight_decay": a.weight_decay, "activation": a.activation},
                                 "sweep": {"width": a.widths, "steps": [a.adam, a.adam + a.polish]}}, name="bench")


def run_toyscale(a):
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        run_experiment(experiment(a), d, progress=False)
        dt = time.perf_counter() - t
        df = ResultStore(d).load()
    end = a.adam + a.polish
    return dt, {(int(r.width), int(r.seed)): r.loss for r in df.itertuples() if int(r.steps) == end}


def _static(a, w):
    return {"target": "x2", "activation": a.activation, "width": w, "n_train": a.n_train, "n_test": 1001,
            "adam_steps": a.adam, "polish": "lm", "polish_steps": a.polish}


def _dyn(a, w):
    return {"width": jnp.int32(w), "interval": jnp.float64(2.0), "init_scale": jnp.float64(1.0),
            "adam_lr": jnp.float64(a.lr), "weight_decay": jnp.float64(a.weight_decay)}


def compiled_fns(a):
    """``jit(evaluate)`` of one cell per width (the function the engine maps over cells)."""
    fns = {}
    nested = {"steps": (a.adam + a.polish,)}
    for w in a.widths:
        static, dyn = _static(a, w), _dyn(a, w)
        fns[w] = jax.jit(lambda seed, static=static, dyn=dyn: L.evaluate(static, nested, dyn,
                                                                         jax.random.key(seed))["loss"][0])
    return fns


def step_fns(a):
    """Jitted single steps: Adam on the objective, and one LM iteration (the model's own)."""
    x = L.grid(a.n_train, 2.0, jnp.float64)
    y, lam = x * x, jnp.float64(a.weight_decay)
    adam = optax.adam(a.lr, b1=0.9, b2=0.999, eps=1e-8)

    @jax.jit
    def adam_step(p, st):
        _, g = L.objective_and_grad(p, x, y, a.activation, lam)
        upd, st = adam.update(g, st, p)
        return optax.apply_updates(p, upd), st

    lm_init = jax.jit(lambda th: L.lm_init(th, x, y, a.activation, lam))
    lm_step = jax.jit(lambda c: L.lm_step(c, x, y, a.activation, lam))
    xt = L.grid(1001, 2.0, jnp.float64)
    test = jax.jit(lambda th: L.mse(L.unflatten(th), xt, xt * xt, L.activation_fn(a.activation)))
    init = jax.jit(lambda seed, w: L.init_params(jax.random.key(seed), w, w, 1.0, jnp.float64), static_argnums=1)
    return adam, adam_step, lm_init, lm_step, test, init


def run_per_step(a, fns):
    adam, adam_step, lm_init, lm_step, test, init = fns
    out = {}
    t = time.perf_counter()
    for w in a.widths:
        for s in range(a.seeds):
            p = init(jnp.uint32(s), w)
            st = adam.init(p)
            for _ in range(a.adam):
                p, st = adam_step(p, st)
            c = lm_init(L.flatten(p))
            for _ in range(a.polish):
                c = lm_step(c)
                if bool(c[-1]):  # LM stopped: the rest of its budget would leave theta unchanged
                    break
            out[w, s] = float(test(c[0]))
    return time.perf_counter() - t, out


def run_compiled(a, fns):
    out = {}
    t = time.perf_counter()
    for w in a.widths:
        for s in range(a.seeds):
            out[w, s] = float(fns[w](jnp.uint32(s)))
    return time.perf_counter() - t, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32, 64])
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--adam", type=int, default=2000)
    ap.add_argument("--polish", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--weight-decay", type=float, default=1e-6)
    ap.add_argument("--n-train", type=int, default=128)
    ap.add_argument("--activation", default="silu")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    print(f"lottery grid: widths {a.widths} x {a.seeds} seeds, Adam {a.adam} (lr {a.lr}) + LM <= {a.polish}, "
          f"weight decay {a.weight_decay}, n_train {a.n_train}, {a.activation}; "
          f"{platform.processor() or platform.machine()}, {jax.devices()[0].platform}")
    with jax.enable_x64(True):
        cfns, sfns = compiled_fns(a), step_fns(a)
        t = time.perf_counter()
        run_toyscale(a)
        c1 = time.perf_counter() - t
        first = {}
        for name, fn in (("per-step", lambda: run_per_step(a, sfns)), ("compiled", lambda: run_compiled(a, cfns))):
            t = time.perf_counter()
            fn()
            first[name] = time.perf_counter() - t
        print(f"first (compiling) pass: toyscale {c1:.1f} s, per-step loop {first['per-step']:.1f} s, "
              f"compiled loop {first['compiled']:.1f} s")
        ts, ps, cs = [], [], []
        for _ in range(a.repeats):
            dt, rows = run_toyscale(a)
            ts.append(dt)
            dt, step_out = run_per_step(a, sfns)
            ps.append(dt)
            dt, comp_out = run_compiled(a, cfns)
            cs.append(dt)
    mt, mp, mc = (float(np.median(v)) for v in (ts, ps, cs))
    keys = sorted(rows)
    tv, pv, cv = (np.array([d[k] for k in keys]) for d in (rows, step_out, comp_out))
    relc = np.abs(tv - cv) / cv
    n_bit = int(np.sum(relc <= 1e-6))
    rel = np.abs(tv - pv) / pv
    n_close = int(np.sum(rel <= 1e-6))
    print(f"agreement of the final test MSE within 1e-6 relative: compiled loop {n_bit}/{len(keys)} runs (median "
          f"rel. diff {np.median(relc):.1e}), per-step loop {n_close}/{len(keys)} (median {np.median(rel):.1e})")
    for w in a.widths:
        sel = [i for i, k in enumerate(keys) if k[0] == w]
        print(f"  width {w:4d}: median test MSE toyscale {np.median(tv[sel]):.4e}, per-step loop "
              f"{np.median(pv[sel]):.4e}")
    print(f"warm wall time (median of {a.repeats}): toyscale {mt:.2f} s, per-step loop {mp:.2f} s "
          f"(ratio {mp / mt:.1f}x, target >= 5x), compiled loop {mc:.2f} s (ratio {mc / mt:.2f}x)")
    return {"model": "lottery",
            "what": f"widths {a.widths} × {a.seeds} seeds, Adam {a.adam} + LM ≤ {a.polish} (weight decay "
                    f"{a.weight_decay}), n_train {a.n_train}, {a.activation}, float64; loop: one network at a time, "
                    "a Python loop over jitted steps (the compiled-training loop ratio is in the check column)",
            "toyscale_s": mt, "loop_s": mp, "compile_s": max(0.0, c1 - mt), "flops": None, "precision": "float64",
            "growth": None,
            "check": f"vs jit(evaluate) one network at a time: {mc / mt:.2f}x; final test MSE within 1e-6: "
                     f"{n_bit}/{len(keys)} (compiled loop), {n_close}/{len(keys)} (per-step loop)"}


def benchmark(quick: bool = False) -> dict:
    """``benchmarks/run_all.py`` interface: the default grid (quick: 2 widths × 4 seeds, short)."""
    return main(["--widths", "8", "16", "--seeds", "4", "--adam", "300", "--polish", "300", "--repeats", "1"]
                if quick else [])


if __name__ == "__main__":
    main()
