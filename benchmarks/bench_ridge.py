"""Ridge sweep benchmark: toyscale's engine vs a plain numpy loop over configurations.

The issue-2 setting: 16 widths x 16 sample sizes (both up to 512), latent_dim 2048, 8 seeds,
ridge 1e-4, float64. Both paths use the same random draws (W, X, labels per seed). The numpy
loop is the usual research script: for each (seed, N, P) form the features of the first P
samples and N features, solve the ridge system, evaluate the exact population loss.

Prints per-repeat times, the medians, the time ratio, and the max relative difference of the
losses (must be < 1e-6).

    python benchmarks/bench_ridge.py [--repeats 3] [--seeds 8] [--small]
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
import numpy as np

jax.config.update("jax_enable_x64", True)

from toyscale.experiment import experiment_from_dict  # noqa: E402
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
        X = np.asarray(jax.random.normal(kX, (Pmax, v))) * np.sqrt(lam)
        W = np.asarray(jax.random.normal(kW, (v, Nmax)))
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--small", action="store_true", help="a 4x smaller problem (smoke test)")
    args = ap.parse_args(argv)
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
