"""Fitting benchmarks: batched JAX fits vs SciPy loops, in one process.

1. 1 000 synthetic offset-law curves E + A x^-a (12 points, 2 % noise): one jitted variable-projection
   call vs a loop of SciPy fits (same estimator); prints the max |slope difference| (must be
   < 1e-4) and the median time ratio.
2. The Chinchilla multi-start Huber fit (4 500 starts, Besiroglu et al. 2024 grid): one jitted
   batch of fixed-step L-BFGS runs (+ SciPy polish of the 32 best) vs a SciPy L-BFGS-B loop over
   the same starts; prints both best objectives and the time ratio.

    python benchmarks/bench_fit.py [--repeats 3] [--starts 4500]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import toyscale  # noqa: F401
import jax
import numpy as np
import pandas as pd

jax.config.update("jax_enable_x64", True)

from toyscale import fit as F  # noqa: E402


def timed(fn, repeats):
    ts, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        jax.block_until_ready(out) if not isinstance(out, (float, np.ndarray, F.JointFit)) else None
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--curves", type=int, default=1000)
    ap.add_argument("--starts", type=int, default=4500)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    x = np.geomspace(8, 1024, 12)
    c = args.curves
    E, A, a = rng.uniform(0.01, 0.5, c), rng.uniform(0.5, 5, c), rng.uniform(0.3, 2.0, c)
    Y = (E[:, None] + A[:, None] * x ** -a[:, None]) * np.exp(0.02 * rng.standard_normal((c, 12)))
    F.fit_offset_batched(x, Y)["slope"].block_until_ready()  # compile once
    tb, out = timed(lambda: F.fit_offset_batched(x, Y)["slope"], args.repeats)
    ts, ref = timed(lambda: np.array([F.fit_offset_power_law(x, y)[0] for y in Y]), args.repeats)
    diff = float(np.max(np.abs(np.asarray(out) - ref)))
    print(f"[1] {c} offset-law curves: batched JAX {tb * 1e3:.1f} ms, SciPy loop {ts * 1e3:.0f} ms (medians of "
          f"{args.repeats}); max |slope diff| {diff:.1e} ({'OK' if diff < 1e-4 else 'FAIL'} < 1e-4); "
          f"speed-up {ts / tb:.0f}x (target >= 20x)")

    df = pd.read_csv(Path(F.__file__).parent.parent / "data" / "chinchilla_svg_extracted.csv")
    df = df.sort_values("loss").iloc[:-5]
    N = df["Model Size"].to_numpy(float)
    D, L = df["Training FLOP"].to_numpy(float) / (6 * N), df["loss"].to_numpy(float)
    starts = F.chinchilla_starts()[: args.starts]
    t = time.perf_counter()
    F.fit_joint(N, D, L, method="huber", batched=True, starts=starts)
    t_first = time.perf_counter() - t
    tb, fb = timed(lambda: F.fit_joint(N, D, L, method="huber", batched=True, starts=starts), max(1, args.repeats - 1))
    t = time.perf_counter()
    fs = F.fit_joint_huber(N, D, L, starts=starts)
    ts = time.perf_counter() - t
    print(f"[2] Chinchilla Huber fit, {len(starts)} starts: batched JAX + polish {tb:.1f} s (first call with compile "
          f"{t_first:.1f} s), SciPy L-BFGS-B loop {ts:.1f} s (one run); speed-up {ts / tb:.1f}x")
    print(f"    best objective: batched {fb.objective:.8f} (E={fb.E:.4f} a={fb.a:.4f} b={fb.b:.4f}), "
          f"SciPy loop {fs.objective:.8f} (E={fs.E:.4f} a={fs.a:.4f} b={fs.b:.4f})")
    return 0 if diff < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
