"""Throughput of the superposition grid: one vmapped program per width vs one model at a time.

The same grid of models (widths x weight decays x alphas, one seed), the same steps and batch,
in one process:

* ``vmapped``: toyscale's path, ``jit(vmap(evaluate))`` over every model of a width (one
  compiled program per width, all its weight decays and alphas batched);
* ``looped``: ``jit(evaluate)`` for one model (the training loop is still a ``lax.scan``),
  called once per model in a Python loop (compiled once per width; values are traced);
* ``python-steps`` (``--python-steps``): the reference style, a jitted single training step
  called from a Python loop over steps, one model at a time.

Throughput = models x steps / second of execution (compilation excluded and printed
separately). Usage::

    python benchmarks/bench_superposition.py                     # CPU-sized default grid
    python benchmarks/bench_superposition.py --batch 2048 --steps 2000 --widths 10 32 100
    python benchmarks/bench_superposition.py --horizon   # steps = 200: default horizon vs horizon = 200
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import toyscale  # noqa: F401  (XLA CPU workaround before the backend starts)
from toyscale.models import superposition as sp


def _grid(args):
    return [dict(width=m, weight_decay=wd, alpha=a, lr=args.lr, importance=1.0)
            for m, wd, a in itertools.product(args.widths, args.wds, args.alphas)]


def _static(args, m):
    return dict(n_features=args.n, width=m, batch_size=args.batch, horizon=args.steps,
                warmup=max(1, args.steps // 10), value_dist="uniform02")


def _nested(args):
    return {"steps": (args.steps,)}  # one recorded step: the end of training


def _as_dyn(rows, dtype):
    return {k: jnp.asarray(np.array([r[k] for r in rows]), dtype) for k in rows[0]}


def run_vmapped(args, grid, dtype):
    t_comp = t_run = 0.0
    out = []
    for m in args.widths:
        rows = [r for r in grid if r["width"] == m]
        static = _static(args, m)
        f = jax.jit(jax.vmap(lambda d, s, st=static: sp.evaluate(st, _nested(args), d, jax.random.key(s))["loss"][0]))
        dyn, seeds = _as_dyn(rows, dtype), jnp.arange(len(rows), dtype=jnp.uint32)
        t0 = time.perf_counter()
        c = f.lower(dyn, seeds).compile()
        t_comp += time.perf_counter() - t0
        t0 = time.perf_counter()
        res = jax.block_until_ready(c(dyn, seeds))
        t_run += time.perf_counter() - t0
        out.append(np.asarray(res))
    return t_comp, t_run, np.concatenate(out)


def run_looped(args, grid, dtype):
    t_comp = t_run = 0.0
    out = []
    for m in args.widths:
        rows = [r for r in grid if r["width"] == m]
        static = _static(args, m)
        f = jax.jit(lambda d, s, st=static: sp.evaluate(st, _nested(args), d, jax.random.key(s))["loss"][0])
        one = {k: jnp.asarray(v, dtype) for k, v in rows[0].items()}
        t0 = time.perf_counter()
        c = f.lower(one, jnp.uint32(0)).compile()
        t_comp += time.perf_counter() - t0
        t0 = time.perf_counter()
        for i, r in enumerate(rows):
            res = jax.block_until_ready(c({k: jnp.asarray(v, dtype) for k, v in r.items()}, jnp.uint32(i)))
            out.append(float(res))
        t_run += time.perf_counter() - t0
    return t_comp, t_run, np.array(out)


def run_python_steps(args, grid, dtype):
    """Reference style: a jitted step in a Python loop over steps, one model at a time."""
    t_comp = t_run = 0.0
    for m in args.widths:
        rows = [r for r in grid if r["width"] == m]
        static = _static(args, m)
        n, steps = static["n_features"], static["steps"]
        net = sp.TiedReLU(n, m)
        apply = jax.vmap(net.apply, in_axes=(None, 0))

        def setup(d, key):
            k_init, k_data = jax.random.split(key)
            params = sp.init_params(k_init, net, d["width"], dtype)
            opt = sp.make_optimizer(d["lr"], d["weight_decay"], steps, static["warmup"])
            return params, opt.init(params), k_data

        @jax.jit
        def step(params, state, d, k_data, t):
            p = sp.feature_probs(n, d["alpha"], dtype)
            opt = sp.make_optimizer(d["lr"], d["weight_decay"], steps, static["warmup"])
            x = sp.sample_features(jax.random.fold_in(k_data, t), p, static["batch_size"])
            loss, g = jax.value_and_grad(lambda q: jnp.mean((apply({"params": q}, x) - x) ** 2))(params)
            upd, state = opt.update(g, state, params)
            return jax.tree.map(lambda a, b: a + b, params, upd), state, loss

        for i, r in enumerate(rows):
            d = {k: jnp.asarray(v, dtype) for k, v in r.items()}
            params, state, k_data = setup(d, jax.random.key(i))
            if i == 0:
                t0 = time.perf_counter()
                jax.block_until_ready(step(params, state, d, k_data, 0))
                t_comp += time.perf_counter() - t0
            t0 = time.perf_counter()
            for t in range(steps):
                params, state, loss = step(params, state, d, k_data, t)
            jax.block_until_ready(loss)
            t_run += time.perf_counter() - t0
    return t_comp, t_run, None


HORIZON_RUN = """
import sys, tempfile, time
t0 = time.perf_counter()
import toyscale
from toyscale.experiment import experiment_from_dict
from toyscale.sweep import run_experiment
params = {"n_features": 200, "batch_size": 256}
if sys.argv[1] != "default":
    params["horizon"] = int(sys.argv[1])
    params["warmup"] = 20
doc = {"model": "superposition", "seeds": 1, "params": params, "sweep": {"width": [10, 32], "steps": [200]}}
with tempfile.TemporaryDirectory() as d:
    run_experiment(experiment_from_dict(doc, name="h"), d, progress=False)
print(time.perf_counter() - t0)
"""


def stop_at_last_recorded() -> dict:
    """Whole-process seconds of ``steps = 200`` on the default 20 000-step horizon vs ``horizon = 200``
    (2 widths, n 200, batch 256): training stops at the last recorded step, so the ratio is ~1."""
    import subprocess
    import sys

    t = {}
    for h in ("default", "200"):
        res = subprocess.run([sys.executable, "-c", HORIZON_RUN, h], capture_output=True, text=True, check=True)
        t[h] = float(res.stdout.strip().splitlines()[-1])
    return {"steps200_default_horizon_s": round(t["default"], 2), "steps200_horizon200_s": round(t["200"], 2),
            "ratio": round(t["default"] / t["200"], 2)}


def benchmark(quick: bool = False) -> dict:
    """``benchmarks/run_all.py`` interface: vmapped vs looped on the default grid, float32;
    FLOPs counted as 6 matrix products of batch x n x width per model and step (forward
    x W, x W W^T and their gradients; the Adam update and data draws not counted)."""
    ns = argparse.Namespace(n=1000, widths=[10, 32, 100], wds=[-1.0, 0.0, 1.0], alphas=[0.2, 0.5],
                            batch=256, steps=100 if quick else 300, lr=1e-2)
    if quick:
        ns.widths, ns.n = [10, 32], 200
    dtype = jnp.float32
    stop = stop_at_last_recorded()
    grid = _grid(ns)
    cv, rv, lv = run_vmapped(ns, grid, dtype)
    rv2 = run_vmapped(ns, grid, dtype)[1]
    cl, rl, ll = run_looped(ns, grid, dtype)
    flops = sum(6 * 2 * ns.batch * ns.n * r["width"] * ns.steps for r in grid)
    growth = {}
    for k in (1, 2, 4, 8):
        ng = argparse.Namespace(**{**vars(ns), "alphas": list(np.linspace(0.2, 0.5, k))})
        growth[k] = run_vmapped(ng, _grid(ng), dtype)[1]
    return {"model": "superposition",
            "what": f"{len(grid)} models (widths {ns.widths}, 3 weight decays, 2 alphas), n {ns.n}, batch {ns.batch}, "
                    f"{ns.steps} Adam steps, float32; loop: the same jitted training scan called once per model; "
                    "growth: 1/2/4/8 alphas per (width, weight decay). On a CPU vmapping buys nothing: the "
                    "products of one model already fill the cores.",
            "toyscale_s": min(rv, rv2), "loop_s": rl, "compile_s": cv, "flops": flops, "precision": "float32",
            "growth": growth, "check": f"max rel. diff of final loss {float(np.max(np.abs(lv - ll) / np.abs(ll))):.1e}",
            "extra": "`steps = 200` on the default horizon (20 000) vs `horizon = 200`, whole process, 2 widths, n 200, "
                     "batch 256: {steps200_default_horizon_s} s vs {steps200_horizon200_s} s (ratio {ratio}; training "
                     "stops at the last recorded step).".format(**stop)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--widths", type=int, nargs="+", default=[10, 32, 100])
    ap.add_argument("--wds", type=float, nargs="+", default=[-1.0, 0.0, 1.0])
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.2, 0.5])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--python-steps", action="store_true", help="also time the reference-style Python step loop")
    ap.add_argument("--horizon", action="store_true", help="only: steps = 200 on the default horizon vs horizon = 200")
    args = ap.parse_args(argv)
    if args.horizon:
        print(json.dumps(stop_at_last_recorded()))
        return
    dtype = jnp.result_type(float)
    grid = _grid(args)
    work = len(grid) * args.steps
    res = {"device": f"{jax.default_backend()}: {jax.devices()[0].device_kind}", "cpu": platform.processor() or platform.machine(),
           "models": len(grid), "steps": args.steps, "batch": args.batch, "n": args.n, "widths": args.widths}
    cv, rv, lv = run_vmapped(args, grid, dtype)
    cl, rl, ll = run_looped(args, grid, dtype)
    res.update(vmapped_compile_s=round(cv, 2), vmapped_run_s=round(rv, 2), vmapped_model_steps_per_s=round(work / rv, 1),
               looped_compile_s=round(cl, 2), looped_run_s=round(rl, 2), looped_model_steps_per_s=round(work / rl, 1),
               ratio_vmapped_over_looped=round(rl / rv, 3),
               max_rel_diff_loss=float(np.max(np.abs(lv - ll) / np.abs(ll))))
    if args.python_steps:
        cp, rp, _ = run_python_steps(args, grid, dtype)
        res.update(python_steps_run_s=round(rp, 2), python_steps_model_steps_per_s=round(work / rp, 1),
                   ratio_vmapped_over_python_steps=round(rp / rv, 3))
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
