"""Score a random-features experiment's seed-mean loss against the deterministic equivalent.

    python experiments/rf_de_score.py experiments/rf_de_width.toml [--quick] [--out DIR]

Runs (or resumes) the experiment through ``toyscale.run``, averages ``loss`` over seeds at
every (width, samples, ridge) point and prints the relative error of
``toyscale.theory.rf_equivalents.ridge_loss`` at each point, with its median and maximum.
Writes ``de_score.json`` next to the results.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("experiment")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    res = toyscale.run(a.experiment, a.out, quick=a.quick, progress=False)
    df = res.table
    df = df[df["status"].astype(str) == "ok"]
    keys = ["alpha", "beta", "latent_dim", "width", "samples", "ridge", "noise"]
    g = df.groupby(keys)["loss"].agg(["mean", "sem", "count"]).reset_index()
    rows = []
    for _, r in g.iterrows():
        lam, b = E.spectrum(r["alpha"], r["beta"], int(r["latent_dim"]))
        de, _ = E.ridge_loss(lam, b, float(r["width"]), float(r["samples"]), float(r["ridge"]), float(r["noise"]))
        rel = float(de) / r["mean"] - 1.0
        rows.append({**{k: float(r[k]) for k in keys}, "measured": r["mean"], "sem": r["sem"], "seeds": int(r["count"]),
                     "theory": float(de), "rel_err": rel})
        print(f"N={r['width']:>7g} P={r['samples']:>7g} ridge={r['ridge']:g}: measured {r['mean']:.6g} +- {r['sem']:.2g}, "
              f"theory {float(de):.6g}, rel err {rel:+.4f}")
    errs = np.abs([x["rel_err"] for x in rows if math.isfinite(x["rel_err"])])
    out = {"median_abs_rel_err": float(np.median(errs)), "max_abs_rel_err": float(np.max(errs)), "points": rows}
    print(f"median |rel err| {out['median_abs_rel_err']:.4f}, max {out['max_abs_rel_err']:.4f} over {len(errs)} points")
    Path(res.dir, "de_score.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
