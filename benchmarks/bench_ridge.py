"""Ridge sweep benchmark: toyscale's engine vs a plain numpy loop over configurations.

The reference setting: 16 widths x 16 sample sizes (both up to 512), latent_dim 2048, 8 seeds,
ridge 1e-4, float64. Both paths use the same random draws (W, X, labels per seed). The numpy
loop is the usual research script: for each (seed, N, P) form the features of the first P
samples and N features, solve the ridge system, evaluate the exact population loss.

Prints per-repeat times, the medians, the time ratio, and the max relative difference of the
losses (must be < 1e-6).

    python benchmarks/bench_ridge.py [--repeats 3] [--seeds 8] [--small]
    python benchmarks/bench_ridge.py --compile-scan      # compile time vs grid size (4x4 .. 32x32)

``benchmark(quick)`` is the ``benchmarks/run_all.py`` interface (table row + compile scan).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time

import toyscale  # noqa: F401  (XLA CPU workaround before JAX starts)
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from toyscale.experiment import experiment_from_dict  # noqa: E402
from toyscale.models.base import indexed_normal  # noqa: E402
from toyscale.store import ResultStore  # noqa: E402
from toyscale.sweep import run_experiment  # noqa: E402


def grid(lo, hi, num):
    return sorted({int(round(x)) for x in np.geomspace(lo, hi, num)})


def numpy_loop(widths, samples, seeds, v, alpha, beta, ridge):
    """Plain numpy: one ridge solve per configuration, draws shared per seed."""
    out = {}
    j = np.arange(1, v + 1.0)
    lam = j ** (-2 * alpha)
    b = j ** (-beta)
    Nmax, Pmax = max(widths), max(samples)
    draws = []
    for s in seeds:  # same draws as the model (not timed: both sides get them)
        kW, kX, _, kn = jax.random.split(jax.random.key(s), 4)
        X = np.asarray(indexed_normal(kX, Pmax, (v,), jnp.float64)) * np.sqrt(lam)  # sample i from fold_in(kX, i)
        W = np.asarray(indexed_normal(kW, Nmax, (v,), jnp.float64)).T  # feature j from fold_in(kW, j)
        draws.append((X, W, X @ b))
    t0 = time.perf_counter()
    for s, (X, W, y) in zip(seeds, draws):
        for N in widths:
            Wn = W[:, :N]
            S = Wn.T @ (lam[:, None] * Wn)
            c = Wn.T @ (lam * b)
            for P in samples:
                F = X[:P] @ Wn
                theta = np.linalg.solve(F.T @ F + P * ridge * np.eye(N), F.T @ y[:P])
                out[(s, N, P)] = 0.5 * (theta @ S @ theta - 2 * theta @ c + b @ (lam * b))
    return out, time.perf_counter() - t0


def executed_flops(widths, samples, v, n_cells):
    """Floating-point operations the engine's program executes for a ridge > 0 sweep (padding of
    the sample-size buckets included; random draws not counted): the feature product X W, the
    population matrix W^T D W, the population solve, and per bucket of sample sizes the primal
    Gram + Cholesky + triangular inverse + losses and the dual kernels + Choleskys + losses
    (``random_features._ridge_columns``)."""
    Nmax, Pmax = max(widths), max(samples)
    k = len(widths)
    f = 2 * Pmax * v * Nmax + 2 * v * Nmax**2 + 2 * Pmax * v
    f += 2 * Nmax**3 / 3 + 2 * Nmax**2 + 4 * k * Nmax**2  # population: chol, tri inverse, thetas, losses
    buckets = {}
    for P in samples:
        buckets.setdefault(min(1 << max(0, (P - 1).bit_length()), Pmax), []).append(P)
    for Pb, Ps in buckets.items():
        mb = min(Pb, Nmax)
        f += len(Ps) * (2 * Pb * mb**2 + 2 * Pb * mb + 2 * mb**3 / 3 + 2 * mb**2 + 4 * k * mb**2)
        wide = [N for N in widths if N > min(Ps)]
        f += len(wide) * (2 * Pb**2 * Nmax + len(Ps) * (Pb**3 / 3 + 4 * Pb**2 + 2 * Pb * Nmax + 2 * Nmax**2))
    return f * n_cells


def _doc(widths, samples, v, seeds, ridge=1e-4):
    return {"model": "random_features", "seeds": seeds, "precision": "float64",
            "params": {"alpha": 1.0, "beta": 0.25, "latent_dim": v, "ridge": ridge},
            "sweep": {"width": widths, "samples": samples}}


def compile_time(n, v=2048, seeds=8, top=512):
    """Wall and CPU seconds to trace + compile the n x n ridge program (one chunk)."""
    from toyscale.sweep import chunk_program, plan, schedule

    p = plan(experiment_from_dict(_doc(grid(8, top, n), grid(8, top, n), v, seeds), name="compile"))
    ch = schedule(p, set(), 1024)[0]
    jax.clear_caches()
    with jax.enable_x64(True):
        prog, (dyn, sd) = chunk_program(p, ch, cold=True)  # a cold compile, not this process's cache
        c0, t0 = time.process_time(), time.perf_counter()
        prog.lower(dyn, sd).compile()
        return time.perf_counter() - t0, time.process_time() - c0


def compile_scan(sizes=(4, 8, 16, 32), v=2048, top=512):
    rows = []
    for n in sizes:
        wall, cpu = compile_time(n, v=v, top=top)
        rows.append((n, len(grid(8, top, n)), wall, cpu))
        print(f"  compile {len(grid(8, top, n))} x {len(grid(8, top, n))}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    return rows


def benchmark(quick: bool = False) -> dict:
    """``benchmarks/run_all.py`` interface: the reference ridge sweep vs the numpy loop, executed
    FLOP/s, growth over 1/2/4/8 seeds, and compile time vs grid size."""
    v, top, n_sizes, seeds, repeats = (512, 128, 8, 4, 2) if quick else (2048, 512, 16, 8, 3)
    widths = samples = grid(8, top, n_sizes)
    exp = experiment_from_dict(_doc(widths, samples, v, seeds), name="bench_ridge")

    def timed_run(e):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            run_experiment(e, d, progress=False)
            dt = time.perf_counter() - t0
            return dt, ResultStore(d).load()

    cold, _ = timed_run(exp)
    warm, loop = [], []
    for _ in range(repeats):
        dt, df = timed_run(exp)
        warm.append(dt)
        ref, dtn = numpy_loop(widths, samples, list(range(seeds)), v, 1.0, 0.25, 1e-4)
        loop.append(dtn)
    got = {(int(s), int(n), int(p)): x for s, n, p, x in zip(df.seed, df.width, df.samples, df.loss)}
    rel = max(abs(got[k] - ref[k]) / abs(ref[k]) for k in ref)
    growth = {}
    for k in (1, 2, 4, 8):
        e = experiment_from_dict(_doc(widths, samples, v, k * max(1, seeds // 8)), name="growth")
        timed_run(e)  # compile
        growth[k] = timed_run(e)[0]
    scan = compile_scan((4, 8) if quick else (4, 8, 16, 32), v=v, top=top)
    big = [r for r in scan if r[1] >= 32]
    extra = ("Compile time of the ridge program vs grid size (widths × sample sizes, 8 seeds, latent_dim "
             f"{v}, sizes 8..{top}; one program, trace + XLA compile): "
             + "; ".join(f"{a} × {a}: {w:.1f} s wall ({c:.1f} s CPU)" for _, a, w, c in scan)
             + (f". Target for 32 × 32: ≤ 15 s wall on the 2-core CPU: {'met' if big[0][2] <= 15 else 'NOT met'}"
                f" ({big[0][2]:.1f} s wall, {big[0][3]:.1f} s CPU)." if big else "."))
    return {"model": "random_features (ridge)",
            "what": f"{len(widths)} widths × {len(samples)} sample sizes (8..{top}), latent_dim {v}, {seeds} seeds, "
                    f"ridge 1e-4, float64 = {exp.n_configs} configurations; loop: numpy, one ridge solve per "
                    f"configuration (draws handed to it untimed); growth: {max(1, seeds // 8)}·k seeds. "
                    "What bounds the FLOP/s: see the notes in benchmarks/RESULTS.md.",
            "toyscale_s": statistics.median(warm), "loop_s": statistics.median(loop),
            "compile_s": max(0.0, cold - statistics.median(warm)),
            "flops": executed_flops(widths, samples, v, seeds), "precision": "float64",
            "growth": growth, "check": f"max rel. diff of losses {rel:.1e} (< 1e-6)", "extra": extra}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--small", action="store_true", help="a 4x smaller problem (smoke test)")
    ap.add_argument("--compile-scan", action="store_true", help="only print compile time vs grid size")
    args = ap.parse_args(argv)
    if args.compile_scan:
        compile_scan()
        return 0
    v, top = (512, 128) if args.small else (2048, 512)
    widths, samples = grid(8, top, 16), grid(8, top, 16)
    seeds = list(range(args.seeds))
    alpha, beta, ridge = 1.0, 0.25, 1e-4
    doc = {"model": "random_features", "seeds": args.seeds, "precision": "float64",
           "params": {"alpha": alpha, "beta": beta, "latent_dim": v, "ridge": ridge},
           "sweep": {"width": widths, "samples": samples}}
    exp = experiment_from_dict(doc, name="bench_ridge")
    print(f"ridge sweep: {len(widths)} widths x {len(samples)} samples (<= {top}), latent_dim {v}, "
          f"{len(seeds)} seeds = {exp.n_configs} configurations, ridge {ridge}, float64, "
          f"{jax.devices()[0].platform}")
    t_engine, t_engine_cold, t_numpy = [], None, []
    for r in range(args.repeats + 1):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            run_experiment(exp, d, progress=False)
            dt = time.perf_counter() - t0
            df = ResultStore(d).load()
        if r == 0:
            t_engine_cold = dt  # includes compilation
        else:
            t_engine.append(dt)
        ref, dtn = numpy_loop(widths, samples, seeds, v, alpha, beta, ridge)
        t_numpy.append(dtn)
        print(f"  repeat {r}: toyscale {dt:7.2f} s{' (with compile)' if r == 0 else ''}   numpy loop {dtn:7.2f} s",
              flush=True)
    got = {(int(s), int(n), int(p)): x for s, n, p, x in zip(df.seed, df.width, df.samples, df.loss)}
    rel = max(abs(got[k] - ref[k]) / abs(ref[k]) for k in ref)
    med_e, med_n = statistics.median(t_engine), statistics.median(t_numpy)
    print(f"max relative difference of losses: {rel:.2e} ({'OK' if rel < 1e-6 else 'FAIL'} < 1e-6)")
    print(f"median: toyscale {med_e:.2f} s (first run with compile {t_engine_cold:.2f} s), numpy loop {med_n:.2f} s")
    print(f"speed-up (median numpy / median toyscale): {med_n / med_e:.1f}x   "
          f"(with compile: {med_n / t_engine_cold:.1f}x; target >= 10x)")
    return 0 if rel < 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
