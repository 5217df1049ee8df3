"""One-pass SGD: the exact expected loss (per W, seed mean) against PLRF's deterministic
equivalent, across widths d, in one cell of phases Ia, II and III; and the phase-III split of
the loss into forcing and kernel parts across d.

    python experiments/rf_de_sgd.py [--quick] [--out DIR]

Writes ``DIR/de_sgd.json`` (relative error at every recorded step and width, its median and
max per width, the fitted rate d^-r of the median) and ``DIR/split.json`` (phase III: the
deterministic equivalent's forcing and kernel parts and the exact recursion's, per d; the exact
split uses independent numpy draws of W run through the model's own recursion functions).
``experiments/rf_phase3_split_figure.py`` draws the figure from ``split.json``.
"""

import argparse
import json
import math
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import toyscale  # noqa: E402
from toyscale.models import rf_learners as lr  # noqa: E402
from toyscale.theory import rf_equivalents as E  # noqa: E402

HERE = Path(__file__).parent
CELLS = {"Ia": (0.75, 0.25), "II": (1.0, 0.75), "III": (1.0, 2.0)}
#: Seeds per phase for the full run where not the file's 4 (phase II: 4 seeds left its error at
#: the seed-noise floor, flat in d), and the directory each is stored in.
SEEDS = {"Ia": 8, "II": 8}
DIRS = {"II": "phase_II_8seeds"}


def score(out, quick):
    res = {}
    for ph, (a, b) in CELLS.items():
        r = toyscale.run(HERE / "rf_de_sgd.toml", Path(out) / (f"phase_{ph}" if quick else DIRS.get(ph, f"phase_{ph}")), quick=quick, progress=False, report=False,
                         set=[f"params.alpha={a}", f"params.beta={b}"] + ([] if quick or ph not in SEEDS else [f"seeds={SEEDS[ph]}"]))
        df = r.table
        df = df[df["status"].astype(str) == "ok"]
        v = int(df["latent_dim"].iloc[0])
        lam, bb = E.spectrum(a, b, v)
        per = {}
        for N, g in df.groupby("width"):
            m = g.groupby("steps")["loss"].agg(["mean", "sem", "count"])
            steps = [int(t) for t in m.index]
            de = E.sgd_curve(lam, bb, int(N), float(df["lr_scale"].iloc[0]), int(df["batch_size"].iloc[0]), steps)
            rel = de / m["mean"].to_numpy() - 1.0
            z = (de - m["mean"].to_numpy()) / m["sem"].to_numpy()  # error in seed standard errors
            per[int(N)] = {"steps": steps, "measured": m["mean"].tolist(), "sem": m["sem"].tolist(),
                           "seeds": int(m["count"].min()), "theory": de.tolist(), "rel_err": rel.tolist(),
                           "median_abs_rel_err": float(np.median(np.abs(rel))), "max_abs_rel_err": float(np.max(np.abs(rel))),
                           "median_abs_z": float(np.median(np.abs(z)))}
            print(f"phase {ph} (alpha={a}, beta={b}) d={int(N)}: median |rel err| {per[int(N)]['median_abs_rel_err']:.4f}, "
                  f"max {per[int(N)]['max_abs_rel_err']:.4f}, median |error / s.e.| {per[int(N)]['median_abs_z']:.2f} "
                  f"({per[int(N)]['seeds']} seeds)", flush=True)
        ds = sorted(per)
        med = [per[d]["median_abs_rel_err"] for d in ds]
        rate = float(-np.polyfit(np.log(ds), np.log(med), 1)[0]) if len(ds) > 1 else None
        res[ph] = {"alpha": a, "beta": b, "latent_dim": v, "widths": per, "rate": rate}
        print(f"phase {ph}: median |rel err| ~ d^-{rate}", flush=True)
    return res


def split(quick, seeds):
    """Phase III: forcing and kernel parts of the expected loss across d (exact and DE)."""
    a, b = CELLS["III"]
    v = 4096
    ds = [128, 256] if quick else [128, 256, 512, 1024, 2048]
    steps = sorted({int(round(x)) for x in np.geomspace(1, 3e3 if quick else 1e5, 41)})
    lam, bb = E.spectrum(a, b, v)
    gamma = 0.5 / float(jnp.sum(lam))
    rng = np.random.default_rng(2024)
    out = {"alpha": a, "beta": b, "latent_dim": v, "lr_scale": 0.5, "batch": 1, "steps": steps, "d": {}}
    for d in ds:
        L, fo, ke, ls = E.sgd_curve(lam, bb, d, 0.5, 1, steps, split=True)
        ex_l, ex_f, ex_ls = [], [], []
        for _ in range(seeds):
            W = jnp.asarray(rng.standard_normal((v, d)) / math.sqrt(d))
            _, _, mu, _, th, lst = lr.population(W, lam, bb)
            l_, _ = lr.sgd_expected_curve(mu, th, lst, 0.0, gamma, 1, tuple(steps))
            am = 1.0 - 2.0 * gamma * mu + 2.0 * gamma * gamma * mu * mu
            ex_f.append([0.5 * float(jnp.sum(mu * th * th * am**t)) for t in steps])
            ex_l.append(np.asarray(l_))
            ex_ls.append(float(lst))
        ex_l, ex_f = np.mean(ex_l, 0), np.mean(ex_f, 0)
        out["d"][d] = {"theory": {"loss": L.tolist(), "forcing": fo.tolist(), "kernel": ke.tolist(), "lstar": ls},
                       "exact": {"loss": ex_l.tolist(), "forcing": ex_f.tolist(),
                                 "kernel": (ex_l - ex_f - np.mean(ex_ls)).tolist(), "lstar": float(np.mean(ex_ls)),
                                 "seeds": seeds}}
        print(f"split d={d} done", flush=True)
    # infinite width (latent features, W = I): the exact recursion on the spectrum itself
    mu, th = lam, bb
    l_, _ = lr.sgd_expected_curve(mu, th, 0.0, 0.0, gamma, 1, tuple(steps))
    am = 1.0 - 2.0 * gamma * mu + 2.0 * gamma * gamma * mu * mu
    f_ = np.array([0.5 * float(jnp.sum(mu * th * th * am**t)) for t in steps])
    out["d"]["inf"] = {"exact": {"loss": np.asarray(l_).tolist(), "forcing": f_.tolist(),
                                 "kernel": (np.asarray(l_) - f_).tolist(), "lstar": 0.0, "seeds": 1}}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="results/rf_de_sgd")
    ap.add_argument("--only", choices=["score", "split"], default=None)
    a = ap.parse_args()
    Path(a.out).mkdir(parents=True, exist_ok=True)
    if a.only != "split":
        Path(a.out, "de_sgd.json").write_text(json.dumps(score(a.out, a.quick), indent=1))
    if a.only != "score":
        Path(a.out, "split.json").write_text(json.dumps(split(a.quick, 2 if a.quick else 4), indent=1))


if __name__ == "__main__":
    main()
