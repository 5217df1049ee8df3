"""Associative memories: toyscale's vmapped programs vs one configuration at a time.

Two comparisons, each in one process, the same configurations, the same random draws:

(a) closed forms (``--part a``): a d x T x seeds sweep of the thresholding memory. toyscale:
    ``jit(vmap(evaluate))`` over the seeds, every (d, T) of a seed in one cell (samples and
    counts shared across T, embeddings across d). Baseline: one (d, T, seed) per call of
    ``jit(evaluate)`` with that single d and T (compiled once per (d, T), compilation excluded).
(b) trained memories (``--part b``): a slice of the reference's grid ('matrix', Adam(0, 0),
    N = 100, M = 5, alpha = 2). toyscale: one program per batch size, vmapped over lr x seeds,
    every d in the cell, every T a prefix of one run. Baseline: the reference's loop, one
    (d, lr, batch, T, seed) per call of ``jit(evaluate)`` training on T samples from scratch
    (compiled once per (d, batch, T), compilation excluded).

Both check that the two paths give the same errors (part b in float32, the grid's precision,
can differ where rounding flips a near-tie argmax after training; ``--b-precision float64``
shows agreement to rounding), then print the median time of ``--repeat``
runs of each and their ratio. ``--full-grid`` instead times the whole trained grid of
experiments/assoc_trained_grid.toml (4 800 memories) through ``toyscale.sweep.run_experiment``
(or the fraction ``--fraction`` of its seeds) and prints time, achieved FLOP/s and the model's
FLOP count.

Usage::

    python benchmarks/bench_assoc.py                 # both parts, CPU-sized
    python benchmarks/bench_assoc.py --part b --widths 10 30 100 300
    python benchmarks/bench_assoc.py --full-grid --seeds 1   # 1/8 of the grid, extrapolate x 8
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import toyscale  # noqa: F401
from toyscale.models import associative_memory as am

DYN = dict(zipf=2.0, rho=0.0, lr=1.0)


def _dyn(rows, dtype):
    return {k: jnp.asarray(np.array([r.get(k, DYN[k]) for r in rows]), dtype) for k in DYN}


def _compile(f, *args):
    t0 = time.perf_counter()
    c = jax.jit(f).lower(*args).compile()
    return c, time.perf_counter() - t0


def _timed(fn, repeat):
    ts, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def part_a(args, dtype):
    static = dict(vocab=args.vocab, classes=5, scheme="threshold", threshold_ratio=0.125, variant="matrix", optimizer="adam",
                  batch_size=1, layernorm=0, width_inf=False)
    ds, Ts, seeds = tuple(args.a_widths), tuple(args.a_samples), list(range(args.a_seeds))
    nested = {"width": ds, "samples": Ts}
    vm = jax.vmap(lambda d, s: am.evaluate(static, nested, d, jax.random.key(s)))
    dyn, keys = _dyn([{}] * len(seeds), dtype), jnp.asarray(seeds, jnp.uint32)
    prog, t_comp = _compile(vm, dyn, keys)
    t_vm, res = _timed(lambda: prog(dyn, keys)["error"], args.repeat)
    one_dyn = _dyn([{}], dtype)
    one_dyn = {k: v[0] for k, v in one_dyn.items()}
    progs, t_comp1 = {}, 0.0
    for d, T in itertools.product(ds, Ts):
        f = (lambda dd, s, nd={"width": (d,), "samples": (T,)}: am.evaluate(static, nd, dd, jax.random.key(s))["error"])
        progs[(d, T)], tc = _compile(f, one_dyn, jnp.uint32(0))
        t_comp1 += tc

    def loop():
        return [progs[(d, T)](one_dyn, jnp.uint32(s)) for s in seeds for d in ds for T in Ts]

    t_loop, outs = _timed(loop, args.repeat)
    ref = np.asarray(res).reshape(-1)
    got = np.array([float(np.asarray(o).reshape(-1)[0]) for o in outs])
    return _report("a: closed-form d x T x seeds (threshold)", len(seeds) * len(ds) * len(Ts), t_vm, t_loop,
                   t_comp, t_comp1, np.max(np.abs(ref - got)))


def part_b(args, dtype):
    base = dict(vocab=100, classes=5, scheme="learned", threshold_ratio=0.125, variant="matrix", optimizer="adam", layernorm=0,
                width_inf=False)
    ds, Ts, lrs, Bs, seeds = (tuple(args.widths), tuple(args.samples), args.lrs, args.batches,
                              list(range(args.seeds)))
    cells = [dict(lr=lr, seed=s) for lr, s in itertools.product(lrs, seeds)]
    dyn, keys = _dyn(cells, dtype), jnp.asarray([c["seed"] for c in cells], jnp.uint32)
    progs, t_comp = {}, 0.0
    for B in Bs:
        st = dict(base, batch_size=B)
        nested = {"width": ds, "samples": Ts}
        progs[B], tc = _compile(jax.vmap(lambda d, s, st=st, nd=nested: am.evaluate(st, nd, d, jax.random.key(s))["error"]),
                                dyn, keys)
        t_comp += tc
    t_vm, res = _timed(lambda: [progs[B](dyn, keys) for B in Bs], args.repeat)
    one = {k: v[0] for k, v in _dyn([{}], dtype).items()}
    loop_progs, t_comp1 = {}, 0.0
    for B, d, T in itertools.product(Bs, ds, Ts):
        st = dict(base, batch_size=B)
        f = (lambda dd, s, st=st, nd={"width": (d,), "samples": (T,)}: am.evaluate(st, nd, dd, jax.random.key(s))["error"])
        loop_progs[(B, d, T)], tc = _compile(f, one, jnp.uint32(0))
        t_comp1 += tc
    configs = list(itertools.product(Bs, ds, Ts, lrs, seeds))

    def loop():
        return [loop_progs[(B, d, T)]({**one, "lr": jnp.asarray(lr, dtype)}, jnp.uint32(s))
                for B, d, T, lr, s in configs]

    t_loop, outs = _timed(loop, args.repeat)
    # toyscale result index: [B][cell (lr, seed)][d][T]
    ref = {}
    for bi, B in enumerate(Bs):
        r = np.asarray(res[bi])
        for ci, c in enumerate(cells):
            for di, d in enumerate(ds):
                for ti, T in enumerate(Ts):
                    ref[(B, d, T, c["lr"], c["seed"])] = r[ci, di, ti]
    diffs = np.array([abs(ref[k] - float(np.asarray(o).reshape(-1)[0])) for k, o in zip(configs, outs)])
    print(json.dumps({"b_configs_differing": int((diffs > 0).sum()), "of": len(configs),
                      "precision": str(np.dtype(dtype))}))
    return _report("b: trained grid slice (matrix, Adam(0,0))", len(configs), t_vm, t_loop, t_comp, t_comp1, diffs.max())


def _report(name, n, t_vm, t_loop, c_vm, c_loop, diff):
    r = {"benchmark": name, "configurations": n, "toyscale_s": round(t_vm, 4), "loop_s": round(t_loop, 4),
         "ratio": round(t_loop / t_vm, 2), "compile_toyscale_s": round(c_vm, 2), "compile_loop_s": round(c_loop, 2),
         "max_abs_error_difference": float(diff)}
    print(json.dumps(r))
    return r


def flops_matrix_adam(d, B, T, M=5):
    """Model FLOPs of one 'matrix' Adam(0,0) pass: per step the forward E[x] V (2 B d M), the
    V-gradient (2 B d M), the rank-M W gradient (2 d^2 M), the update (~4 d^2) and V = W U^T
    (2 d^2 M); T / B steps."""
    return (T // B) * (4 * B * d * M + 4 * d * d * M + 4 * d * d)


def full_grid(args):
    import tempfile

    from toyscale.experiment import load_experiment
    from toyscale.sweep import run_experiment

    over = [f"seeds={args.seeds}"] if args.seeds else []
    exp = load_experiment("experiments/assoc_trained_grid.toml", overrides=over)
    out = tempfile.mkdtemp(prefix="assoc_grid_")
    s = run_experiment(exp, out, progress=True)
    p = exp.sweep
    runs = len(exp.seeds) * len(p["lr"])
    fl = runs * sum(flops_matrix_adam(d, B, max(p["samples"])) for d in p["width"] for B in p["batch_size"])
    r = {"memories": s.n_rows, "seconds": round(s.seconds, 1), "compiles": s.compiles, "model_flops": fl,
         "gflops_per_s": round(fl / s.seconds / 1e9, 2), "seeds": len(exp.seeds),
         "extrapolated_8_seeds_s": round(s.seconds * 8 / len(exp.seeds), 1), "out": out, "statuses": s.statuses}
    print(json.dumps(r))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("a", "b", "both"), default="both")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vocab", type=int, default=1000)
    ap.add_argument("--a-widths", type=int, nargs="+", default=[10, 20, 50, 100, 200, 1000])
    ap.add_argument("--a-samples", type=float, nargs="+", default=[10, 100, 1000, 10000])
    ap.add_argument("--a-seeds", type=int, default=16)
    ap.add_argument("--widths", type=int, nargs="+", default=[10, 30, 100])
    ap.add_argument("--samples", type=int, nargs="+", default=[1024, 3072, 10240])
    ap.add_argument("--lrs", type=float, nargs="+", default=[0.1, 0.3, 1.0, 3.0, 10.0, 30.0])
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--b-precision", choices=("float32", "float64"), default="float32",
                    help="part b precision (float32: the grid's; float64: agreement to rounding)")
    ap.add_argument("--full-grid", action="store_true")
    args = ap.parse_args(argv)
    print(json.dumps({"backend": jax.default_backend(), "device": str(jax.devices()[0]), "cpu": platform.processor(),
                      "jax": jax.__version__}))
    if args.full_grid:
        full_grid(args)
        return
    args.a_samples = [int(t) if t != float("inf") else t for t in args.a_samples]
    if args.part in ("a", "both"):  # the closed forms' default precision: float64
        with jax.enable_x64(True):
            part_a(args, jnp.float64)
    if args.part in ("b", "both"):  # the trained grid's precision: float32 (float64: agreement to rounding)
        x64 = args.b_precision == "float64"
        with jax.enable_x64(x64):
            part_b(args, jnp.float64 if x64 else jnp.float32)


def benchmark(quick: bool = False) -> list:
    """``benchmarks/run_all.py`` interface: parts (a) and (b) at the defaults (quick: smaller)."""
    ap_args = ["--part", "both"] + (["--a-widths", "10", "100", "--a-seeds", "4", "--widths", "10", "30",
                                     "--lrs", "1", "10", "--batches", "64", "--repeat", "1"] if quick else [])
    rows = []
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(ap_args)
    for line in buf.getvalue().splitlines():
        if not line.startswith("{") or '"benchmark"' not in line:
            continue
        r = json.loads(line)
        part, prec = ("a", "float64") if r["benchmark"].startswith("a:") else ("b", "float32")
        rows.append({"part": part, "model": "associative_memory", "what": f"{r['benchmark']}, "
                     f"{r['configurations']} configurations; loop: one configuration at a time, same functions",
                     "toyscale_s": r["toyscale_s"], "loop_s": r["loop_s"], "compile_s": r["compile_toyscale_s"],
                     "flops": None, "precision": prec, "growth": None,
                     "check": f"max abs. error difference {r['max_abs_error_difference']:.1e}"})
    return rows


if __name__ == "__main__":
    main()
