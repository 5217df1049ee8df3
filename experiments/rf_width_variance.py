"""Variance-limited width law: fit L(N) - L(inf) ~ N^-s at fixed P (min-norm), with a seed
bootstrap interval, and hold the seed mean against the deterministic equivalent.

    python experiments/rf_width_variance.py [--quick] [--out DIR]

The excess is paired per seed (the ``width = inf`` row of a seed sees the same P samples).
Writes ``DIR/width_variance.json``.
"""

import argparse
import json
import math
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import toyscale  # noqa: E402
from toyscale.theory import rf_equivalents as E  # noqa: E402

HERE = Path(__file__).parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="results/rf_width_variance")
    ap.add_argument("--boot", type=int, default=2000)
    a = ap.parse_args()
    r = toyscale.run(HERE / "rf_width_variance.toml", a.out, quick=a.quick, progress=False, report=False)
    df = r.table
    df = df[df["status"].astype(str) == "ok"]
    piv = df.pivot_table(index="seed", columns="width", values="loss")
    inf_col = piv[math.inf]
    Ns = [float(n) for n in piv.columns if math.isfinite(n)]
    exc = np.stack([(piv[n] - inf_col).to_numpy() for n in Ns], axis=1)  # (seeds, widths)
    logN = np.log(Ns)

    def slope(rows):
        m = exc[rows].mean(0)
        return np.polyfit(logN, np.log(m), 1)[0] if np.all(m > 0) else np.nan

    rng = np.random.default_rng(0)
    S = exc.shape[0]
    boots = np.array([slope(rng.integers(0, S, S)) for _ in range(a.boot)])
    boots = boots[np.isfinite(boots)]
    fit = float(slope(np.arange(S)))
    lo, hi = (float(x) for x in np.percentile(boots, [2.5, 97.5]))
    p = df.iloc[0]
    lam, b = E.spectrum(float(p["alpha"]), float(p["beta"]), int(p["latent_dim"]))
    P = float(p["samples"])
    de_inf = float(E.ridge_loss(lam, b, math.inf, P, 0.0)[0])
    de = [float(E.ridge_loss(lam, b, n, P, 0.0)[0]) - de_inf for n in Ns]
    de_slope = float(np.polyfit(logN, np.log(de), 1)[0])
    out = {"widths": Ns, "samples": P, "seeds": S, "excess_mean": exc.mean(0).tolist(),
           "excess_sem": (exc.std(0) / math.sqrt(S)).tolist(), "slope": fit, "ci95": [lo, hi],
           "theory_slope": -1.0, "de_excess": de, "de_slope": de_slope,
           "de_rel_err": (np.asarray(de) / exc.mean(0) - 1).tolist(),
           "loss_inf_mean": float(inf_col.mean()), "de_loss_inf": de_inf}
    print(f"L(N) - L(inf) ~ N^{fit:.3f} [{lo:.3f}, {hi:.3f}] (theory -1; deterministic equivalent's own slope {de_slope:.3f})")
    for n, m, s, d in zip(Ns, out["excess_mean"], out["excess_sem"], de):
        print(f"  N={n:g}: excess {m:.4g} +- {s:.2g}, deterministic equivalent {d:.4g} ({d / m - 1:+.3f})")
    Path(a.out, "width_variance.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
