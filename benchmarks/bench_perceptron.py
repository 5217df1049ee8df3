"""Data-pruning perceptron: toyscale's vmapped max-margin solver vs one configuration at a time
with scikit-learn's LinearSVC (hinge loss, large C, no intercept: liblinear's dual coordinate
descent, what a researcher writes today).

Same configurations and the same kept examples on both sides: the kept sets are drawn and pruned
once by :func:`toyscale.models.perceptron.select` and handed to LinearSVC as NumPy arrays (the
baseline's time counts its fits only, not the drawing). toyscale's time is one compiled
``jit(vmap(evaluate))`` per padded size (drawing, pruning and solving; compilation excluded).
Prints both times, the ratio, and the agreement of the generalisation error eps = arccos(R)/pi.

Needs the optional extra ``bench`` (scikit-learn). Usage::

    python benchmarks/bench_perceptron.py                    # dim 100, 48 configurations
    python benchmarks/bench_perceptron.py --dim 200 --seeds 8
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

import toyscale  # noqa: F401
from toyscale.models import perceptron as pm


def configs(args):
    out = []
    for alpha, (keep, f), th, seed in itertools.product(args.alphas, (("hard", 0.5), ("easy", 0.5)), (0.0, 0.3),
                                                        range(args.seeds)):
        out.append(dict(alpha=alpha, keep=keep, keep_fraction=f, probe_angle=th, seed=seed))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--alphas", type=float, nargs="+", default=[2.0, 4.0, 8.0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--C", type=float, default=1e4, help="LinearSVC C (hard margin as C -> inf)")
    ap.add_argument("--batch", choices=("vmap", "map"), default="map", help="vmap the configurations or lax.map them (the engine: sequential cells)")

    ap.add_argument("--sk-tol", type=float, default=1e-4, help="LinearSVC's tol (its default)")
    args = ap.parse_args(argv)
    from sklearn.svm import LinearSVC

    jax.config.update("jax_enable_x64", True)
    rows = configs(args)
    groups: dict = {}
    for i, r in enumerate(rows):
        ex = pm.group_extra({**r, "dim": args.dim})
        groups.setdefault((r["keep"], ex["p_pad"], ex["k_pad"]), []).append(i)
    eps_ts = np.empty(len(rows))
    t_ts = 0.0
    kept = {}
    for (keep, p_pad, k_pad), idx in groups.items():
        st = dict(dim=args.dim, keep=keep, max_iter=200, p_pad=p_pad, k_pad=k_pad)
        dyn = {k: jnp.asarray([rows[i][k] for i in idx], jnp.float64) for k in ("alpha", "keep_fraction", "probe_angle")}
        dyn["tol"] = jnp.full(len(idx), args.tol)
        keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray([rows[i]["seed"] for i in idx]))
        one = lambda d, k: pm.evaluate(st, {}, d, k)  # noqa: E731
        batched = jax.vmap(one) if args.batch == "vmap" else (lambda d, k: jax.lax.map(lambda a: one(*a), (d, k)))
        prog = jax.jit(batched).lower(dyn, keys).compile()
        t0 = time.perf_counter()
        out = jax.block_until_ready(prog(dyn, keys))
        t_ts += time.perf_counter() - t0
        eps_ts[idx] = np.asarray(out["error"])
        assert np.all(np.asarray(out["status"]) == 0), "toyscale solver stopped short"

        def draw(d, k):
            n = jnp.maximum(1, jnp.round(d["alpha"] * args.dim)).astype(jnp.int32)
            x = pm.indexed_normal(k, p_pad, (args.dim,), jnp.float64)
            return pm.select(x, n, keep, d["keep_fraction"], d["probe_angle"], k_pad)

        X, y, m = (np.asarray(a) for a in jax.jit(jax.vmap(draw))(dyn, keys))
        for j, i in enumerate(idx):
            kept[i] = (X[j][m[j]], y[j][m[j]])
    eps_sk = np.empty(len(rows))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(len(rows)):
            X, y = kept[i]
            clf = LinearSVC(C=args.C, loss="hinge", fit_intercept=False, tol=args.sk_tol, max_iter=200_000).fit(X, y)
            w = clf.coef_.ravel()
            eps_sk[i] = np.arccos(np.clip(w[0] / np.linalg.norm(w), -1, 1)) / np.pi
    t_sk = time.perf_counter() - t0
    d = np.abs(eps_ts - eps_sk)
    print(f"perceptron benchmark: dim {args.dim}, {len(rows)} configurations (alpha {args.alphas}, keep hard/easy f=0.5, "
          f"theta 0/0.3, {args.seeds} seeds), jax {jax.__version__}, {jax.devices()[0].platform}")
    print(f"  toyscale jit({args.batch}) max-margin (tol {args.tol:g}): {t_ts:.2f} s")
    print(f"  LinearSVC one at a time (C {args.C:g}, hinge, tol {args.sk_tol:g}): {t_sk:.2f} s")
    print(f"  ratio: {t_sk / t_ts:.1f}x")
    print(f"  agreement of eps: max |diff| {d.max():.2e}, median {np.median(d):.2e}, "
          f"mean eps {eps_ts.mean():.4f} vs {eps_sk.mean():.4f}")
    return t_sk / t_ts, d.max()


if __name__ == "__main__":
    main()
