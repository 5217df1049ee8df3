"""Throughput of the lottery budget protocol (Adam only, recorded at log-spaced steps): the
engine's program against the previous one, in the same run.

The protocol of ``experiments/lottery_budget.toml`` (SiLU, y = x^2 on 128 grid points, plain MSE,
Adam only, float64), on a widths x seeds x learning-rates grid, each run recorded at log-spaced
steps (4 per decade):

* ``toyscale``: ``toyscale.sweep.run_experiment`` as a user runs it. An Adam-only group is
  vmapped over its cells (``lottery.sequential_cells``); the training scan emits one number per
  step and copies the network and its gradient into a small buffer at recorded steps; the
  diagnostics are computed from those copies after the scan;
* ``previous``: the program the engine ran before, rebuilt here from the model's own functions:
  cells one at a time (``lax.map``), and in every Adam step a ``lax.cond`` on "is this step
  recorded" whose outputs (the diagnostics and the 1001-point test prediction, zeros at
  unrecorded steps) are stacked over all steps;
* ``sequential``: the new training scan, cells one at a time (``lax.map``): the part of the
  speed-up that is batching.

All timed warm (a first untimed pass compiles), median of ``--repeats``. Agreement: the test MSE
of every (width, seed, lr, step) row, toyscale against the previous program (the same Adam
arithmetic: expected bitwise equal).

    python benchmarks/bench_lottery_budget.py
    python benchmarks/bench_lottery_budget.py --widths 8 32 128 --seeds 4 --steps 10000
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
from toyscale.models.numerics import record_mask, tree_sum
from toyscale.store import ResultStore
from toyscale.sweep import run_experiment


def record_steps(n: int) -> list[int]:
    """Log-spaced recorded steps, 4 per decade from 100 up to ``n`` (``n`` included)."""
    k = np.arange(8, int(np.floor(4 * np.log10(n))) + 1)
    return sorted({int(round(10 ** (j / 4))) for j in k} | {n})


def experiment(a):
    return experiment_from_dict({"model": "lottery", "seeds": a.seeds, "precision": "float64",
                                 "params": {"target": "x2", "activation": "silu", "n_train": 128, "n_test": 1001,
                                            "adam_steps": a.steps, "polish_steps": 0, "weight_decay": 0.0},
                                 "sweep": {"width": a.widths, "adam_lr": a.lrs, "steps": record_steps(a.steps)}},
                                name="bench")


def run_toyscale(a):
    """Seconds of one engine run into a fresh store (rows written, as a user runs it), and its test
    MSE per (width, seed, lr, step)."""
    exp = experiment(a)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        run_experiment(exp, out, progress=False)
        seconds = time.perf_counter() - t0
        rows = ResultStore(out).load()[["width", "seed", "adam_lr", "steps", "loss"]].to_numpy(float)
    return seconds, {(int(w), int(s), lr, int(st)): loss for w, s, lr, st, loss in rows}


def _static(w, steps):
    return {"target": "x2", "activation": "silu", "width": w, "n_train": 128, "n_test": 1001, "adam_steps": steps,
            "polish": "lm", "polish_steps": 0}


def previous_loss(static, dyn, key, record):
    """Test MSE at the recorded steps, by the previous Adam program: a ``lax.cond`` in every
    step computing the diagnostics at recorded steps (zeros elsewhere), stacked over all steps."""
    dtype = jnp.float64
    n = int(static["adam_steps"])
    x = L.grid(128, dyn["interval"], dtype)
    y, xt = x * x, L.grid(1001, dyn["interval"], dtype)
    yt, sigma, m = xt * xt, jax.nn.silu, dyn["width"]
    lam = jnp.zeros((), dtype)
    params = L.init_params(key, int(static["width"]), m, dyn["init_scale"], dtype)

    def diag(p):
        _, g = L.objective_and_grad(p, x, y, "silu", lam)
        pairs, frac = L.symmetric_pairs(p, m)
        pred = L.forward(p, xt, sigma)
        r = pred - yt
        return {"loss": tree_sum(r * r) / xt.shape[0], "train_loss": L.mse(p, x, y, sigma),
                "grad_norm": jnp.sqrt(L.tree_vdot(g, g)), "param_norm": jnp.sqrt(L.tree_vdot(p, p)),
                "sym_pairs": pairs, "sym_fraction": frac, "pred": pred}

    zero = jax.tree.map(jnp.zeros_like, jax.eval_shape(diag, params))
    rec = jnp.asarray(record_mask(record, n))

    def maybe(t, p):
        return jax.lax.cond(rec[t], diag, lambda q: zero, p)

    adam = optax.adam(dyn["adam_lr"], b1=0.9, b2=0.999, eps=1e-8)

    def step(c, t):
        p, st = c
        val, g = L.objective_and_grad(p, x, y, "silu", lam)
        upd, st = adam.update(g, st, p)
        p = optax.apply_updates(p, upd)
        return (p, st), (val, maybe(t + 1, p))

    d0 = maybe(0, params)
    _, (_, d) = jax.lax.scan(step, (params, adam.init(params)), jnp.arange(n))
    loss = jnp.concatenate([d0["loss"][None], d["loss"]])
    return loss[np.asarray(record)]


def programs(a, fn):
    """``jit(lax.map(fn))`` over the (seed, lr) cells of each width, and their inputs."""
    rec = tuple(record_steps(a.steps))
    cells = [(s, lr) for lr in a.lrs for s in range(a.seeds)]
    seeds = jnp.asarray([c[0] for c in cells], jnp.uint32)
    lrs = jnp.asarray([c[1] for c in cells], jnp.float64)
    progs = {}
    for w in a.widths:
        st = _static(w, a.steps)

        def one(c, st=st, w=w):
            dyn = {"width": jnp.int32(w), "interval": jnp.float64(2.0), "init_scale": jnp.float64(1.0),
                   "adam_lr": c[1], "weight_decay": jnp.float64(0.0)}
            return fn(st, {"steps": rec}, dyn, jax.random.key(c[0]), rec)

        progs[w] = jax.jit(lambda s, l, one=one: jax.lax.map(one, (s, l)))
    return progs, cells, seeds, lrs, rec


def run_programs(a, progs, cells, seeds, lrs, rec):
    out = {}
    t = time.perf_counter()
    for w, f in progs.items():
        loss = np.asarray(f(seeds, lrs))
        for i, (s, lr) in enumerate(cells):
            for j, st in enumerate(rec):
                out[w, s, float(lr), st] = float(loss[i, j])
    return time.perf_counter() - t, out


def new_sequential_loss(static, nested, dyn, key, record):
    return L.evaluate(static, nested, dyn, key)["loss"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[8, 32, 128])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 1e-2])
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    n_rows = len(a.widths) * a.seeds * len(a.lrs)
    print(f"lottery budget protocol: widths {a.widths} x {a.seeds} seeds x lr {a.lrs}, Adam {a.steps} steps, "
          f"recorded at {len(record_steps(a.steps))} steps; {platform.processor() or platform.machine()}, "
          f"{jax.devices()[0].platform}")
    with jax.enable_x64(True):
        prev = programs(a, lambda st, ne, dyn, k, rec: previous_loss(st, dyn, k, rec))
        seq = programs(a, lambda st, ne, dyn, k, rec: new_sequential_loss(st, ne, dyn, k, rec))
        t = time.perf_counter()
        run_toyscale(a)
        c1 = time.perf_counter() - t
        run_programs(a, *prev)
        run_programs(a, *seq)
        ts, ps, ss = [], [], []
        for _ in range(a.repeats):
            dt, rows = run_toyscale(a)
            ts.append(dt)
            dt, prev_rows = run_programs(a, *prev)
            ps.append(dt)
            dt, seq_rows = run_programs(a, *seq)
            ss.append(dt)
    mt, mp, ms = (float(np.median(v)) for v in (ts, ps, ss))
    keys = sorted(prev_rows)
    tv, pv, sv = (np.array([d[k] for k in keys]) for d in (rows, prev_rows, seq_rows))
    n_bit, n_seq = int(np.sum(tv == pv)), int(np.sum(sv == pv))
    elem = sum(a.widths) * a.seeds * len(a.lrs) * a.steps * 128
    print(f"test MSE bitwise equal to the previous program: toyscale {n_bit}/{len(keys)}, sequential new "
          f"{n_seq}/{len(keys)} (max rel. diff {np.max(np.abs(tv - pv) / pv):.1e})")
    print(f"warm wall time (median of {a.repeats}): toyscale {mt:.2f} s ({mt / elem * 1e9:.1f} ns per neuron-point-step), "
          f"previous {mp:.2f} s ({mp / elem * 1e9:.1f} ns; ratio {mp / mt:.2f}x), new scan unbatched {ms:.2f} s "
          f"(ratio {mp / ms:.2f}x); first pass (compiling) toyscale {c1:.1f} s")
    check = (f"test MSE bitwise equal to the previous program in {n_bit}/{len(keys)} rows; new scan unbatched: "
             f"{mp / ms:.2f}x; {mt / elem * 1e9:.1f} ns per neuron-point-step")
    what = (f"Adam only, widths {a.widths} × {a.seeds} seeds × lr {a.lrs}, {a.steps} steps recorded at "
            f"{len(record_steps(a.steps))} log-spaced steps, float64 ({n_rows} runs); loop: the previous program "
            "(cells one at a time, a lax.cond with stacked diagnostics in every step)")
    # one row of benchmarks/run_all.py's table (its plug-in interface)
    return dict(model="lottery (budget protocol)", what=what, check=check, precision="float64", toyscale_s=mt,
                loop_s=mp, compile_s=max(0.0, c1 - mt), flops=None, growth=None)


def benchmark(quick: bool = False) -> dict:
    """``benchmarks/run_all.py`` interface (quick: widths 8, 32; 2 seeds; 1000 steps)."""
    small = "--widths 8 32 --seeds 2 --steps 1000 --repeats 1"
    return main(small.split() if quick else [])


if __name__ == "__main__":
    main()
