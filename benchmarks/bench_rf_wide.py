"""Random features with more features than latent dimensions (N > v): the latent / sample-space
solve against the N x N feature-space solve it replaced, same draws, same process.

Min-norm regression on P in {16, 32} samples plus the population, widths N > v: toyscale solves
in the v x v or P x P space, whichever is smaller (``_wide_columns``: ``G = W W^T``,
``beta = G X^T (X G X^T)^-1 y``); the baseline is the feature-space path (``_narrow_columns``:
``S = W^T D W`` and the loss ``theta^T S theta``, O(N^2 v)). Prints the medians, the ratio and
the max relative difference of the finite-P losses (must be < 1e-8).

    python benchmarks/bench_rf_wide.py [--quick] [--repeats 3]

``benchmark(quick)`` is the ``benchmarks/run_all.py`` interface.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import toyscale  # noqa: F401  (XLA CPU workaround before JAX starts)
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from toyscale.models import random_features as rf  # noqa: E402
from toyscale.models.base import indexed_normal  # noqa: E402


def _draws(seed, v, N, Pmax, alpha=1.0, beta=0.3):
    kW, kX, _, _ = jax.random.split(jax.random.key(seed), 4)
    j = jnp.arange(1, v + 1, dtype=jnp.float64)
    lam, b = j ** (-2 * alpha), j ** (-beta)
    X = indexed_normal(kX, Pmax, (v,), jnp.float64) * jnp.sqrt(lam)[None, :]
    W = indexed_normal(kW, N, (v,), jnp.float64).T
    return W, lam, b, X, X @ b


def run(v, widths, samples, seeds, repeats):
    Ps = tuple(samples) + (math.inf,)
    new = jax.jit(lambda W, lam, b, X, y: rf._wide_columns(W, lam, b, X, y, list(widths), Ps, 0.0, True)[0])
    old = jax.jit(lambda W, lam, b, X, y: rf._narrow_columns(W, lam, b, jnp.sum(lam * b * b), X, y, list(widths), Ps,
                                                             0.0, True, False)[0])
    draws = [_draws(s, v, max(widths), max(samples)) for s in range(seeds)]
    times = {"wide": [], "nxn": []}
    out = {}
    for name, f in (("wide", new), ("nxn", old)):
        jax.block_until_ready(f(*draws[0]))  # compile
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = [jax.block_until_ready(f(*d)) for d in draws]
            times[name].append(time.perf_counter() - t0)
        out[name] = np.stack([np.asarray(r) for r in res])
    fin = slice(0, len(samples))
    rel = float(np.max(np.abs(out["wide"][:, :, fin] / out["nxn"][:, :, fin] - 1.0)))
    return {k: statistics.median(t) for k, t in times.items()}, rel


def benchmark(quick: bool = False) -> dict:
    v, widths, seeds = (256, (1024, 2048), 2) if quick else (1024, (2048, 4096), 2)
    med, rel = run(v, widths, (16, 32), seeds, 1 if quick else 3)
    return {"model": "random_features", "part": "N > v (min-norm)",
            "what": f"min-norm, v = {v}, N in {list(widths)}, P in {{16, 32, inf}}, {seeds} seeds, float64: "
                    "latent/sample-space solve vs the N x N feature-space solve",
            "toyscale_s": med["wide"], "loop_s": med["nxn"], "compile_s": None, "flops": None, "precision": "float64",
            "check": f"max rel. diff of the finite-P losses {rel:.1e}"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    v, widths, seeds = (256, (1024, 2048), 2) if a.quick else (1024, (2048, 4096), 2)
    med, rel = run(v, widths, (16, 32), seeds, a.repeats)
    print(f"v = {v}, N = {list(widths)}, P = 16, 32, inf, {seeds} seeds: latent/sample space {med['wide']:.3f} s, "
          f"N x N {med['nxn']:.3f} s, ratio {med['nxn'] / med['wide']:.1f}x; max rel. diff {rel:.1e}")


if __name__ == "__main__":
    main()
