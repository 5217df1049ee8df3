"""Random-feature linear regression with a ridge / min-norm learner, exact population loss.

Model (PLRF notation; Paquette et al. 2024, Maloney-Roberts-Sully 2022, Bahri et al. 2021):
latent ``x in R^v`` with independent coordinates ``x_j ~ N(0, lambda_j)``, ``lambda_j = j^(-2 alpha)``;
target ``y = <b*, x> + noise * eps`` with ``b*_j = j^(-beta)`` (``teacher = "power"``) or
``b*_j ~ N(0, 1)`` (``teacher = "isotropic"``, the MRS setting, ``alpha_MRS = 2 alpha - 1``);
features ``z = W^T x`` with ``W in R^(v x N)``, entries ``N(0, 1)``; learner: ridge regression on
``P`` samples, ``theta = argmin (1/P)||F theta - y||^2 + ridge ||theta||^2`` (``ridge = 0``: the
min-norm interpolator). Test loss is exact, with no test sampling:
``L(theta) = 1/2 (W theta - b*)^T D (W theta - b*)``, ``D = diag(lambda)`` (the clean-target
risk; label noise enters only through training).

Entries ``N(0, 1)`` (rather than PLRF's ``N(0, 1/N)``) keep the first ``N`` features of a draw
the same features at every width, so widths nest; ridge and min-norm predictions are
invariant to a common rescaling of ``W`` up to rescaling ``ridge``.

Speed: sizes nest (first P samples, first N features of ONE draw per cell), so every Gram
matrix is a leading block of a cumulative Gram, the Cholesky factor of a leading block is the
leading block of the factor, and the inverse of a leading block of a triangular matrix is the
leading block of its inverse. One factorisation per sample size (primal, ``N <= P``) or per
width (dual, ``P < N``, min-norm only) serves every configuration of the cell.

``samples = inf`` is the population learner ``theta = (S + ridge I)^-1 c`` with
``S = W^T D W``, ``c = W^T D b*``; ``width = inf`` uses the latent coordinates themselves as
features (the ``N -> infinity`` limit of the min-norm learner).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from toyscale.errors import UserError
from toyscale.models import register
from toyscale.models.base import indexed_normal, normal as draw_normal
from toyscale.protocol import Metric, Model
from toyscale.params import Param
from toyscale.theory import random_features as theory

LEARNERS = ("ridge", "gd", "sgd", "sgd_expected")
TRAINED = ("gd", "sgd", "sgd_expected")

PARAMS = (
    Param("alpha", float, 1.0, "data spectrum lambda_j = j^(-2 alpha)", low=0.0, low_open=True),
    Param("beta", float, 0.25, "target coefficients b*_j = j^(-beta) (teacher = 'power')", low=0.0),
    Param("latent_dim", int, 2048, "v, number of latent coordinates", low=1, high=65536, role="static"),
    Param("latent_ratio", float, 0.0, "PLRF's protocol: latent dimension v = round(latent_ratio * width) per row, step "
          "size from that row's spectrum (0: every width sees the fixed latent_dim); learners 'gd' (samples = inf) and "
          "'sgd_expected'", low=0.0, high=64.0, role="static"),
    Param("width", int, 256, "N, number of random features (inf: the latent itself)", low=1, allow_inf=True, role="nested"),
    Param("samples", int, 1024, "P, number of training samples (inf: population)", low=1, allow_inf=True, role="nested"),
    Param("ridge", float, 0.0, "ridge on (1/P)||F theta - y||^2 + ridge ||theta||^2 (0: min-norm)", low=0.0),
    Param("noise", float, 0.0, "label-noise standard deviation sigma", low=0.0),
    Param("teacher", str, "power", "'power': b*_j = j^-beta; 'isotropic': b*_j ~ N(0,1) (MRS)", choices=("power", "isotropic"), role="static"),
    Param("activation", str, "linear", "feature map z = W^T x ('linear')", choices=("linear",), role="static"),
    Param("learner", str, "ridge", "'ridge': closed-form ridge / min-norm; 'gd': gradient descent (exact, eigendecomposition); "
          "'sgd': one-pass SGD (sampled); 'sgd_expected': exact expected one-pass SGD loss on Gaussian data",
          choices=LEARNERS, role="static"),
    Param("steps", int, math.inf, "recorded training step t (time axis); inf: trained to convergence (the only value "
          "of learner 'ridge')", low=1, high=10_000_000, allow_inf=True, role="nested"),
    Param("batch_size", int, 1, "B, fresh samples per one-pass SGD step (sum over the batch, as PLRF)", low=1, high=4096,
          role="static"),
    Param("lr_scale", float, 0.5, "GD/SGD step size gamma = lr_scale / sum_j lambda_j (PLRF used 0.75)", low=0.0, low_open=True),
)

METRICS = (
    Metric("loss", "exact population risk 1/2 E(f(x) - <b*,x>)^2 (sgd: of the sampled run; sgd_expected: its expectation)"),
    Metric("approx", "loss of the same width and ridge with infinite data, trained to convergence (PLRF F0 floor)"),
    Metric("excess", "loss - approx: the estimation (variance) part of the risk, or the optimisation gap at step t"),
    Metric("gap", "loss - L_inf, L_inf the learner's own t -> inf limit (GD: its fixed point; SGD: the expected "
           "constant-step-size limit); what the time exponent speaks about. Null for 'ridge'", optional=True),
)


def _spectrum(v, alpha, beta, teacher, key):
    j = jnp.arange(1, v + 1, dtype=jnp.result_type(float))
    lam = j ** (-2.0 * alpha)
    if teacher == "power":
        b = j ** (-beta)
    else:
        b = draw_normal(key, (v,), lam.dtype)
    return lam, b


#: Latent entries drawn per block in PLRF's protocol: entry ``i`` of a feature column comes from
#: ``fold_in(fold_in(column key, i // LATENT_BLOCK), ...)``, so the first v entries are the same
#: arrays whatever v (a row's draws depend only on its own configuration).
LATENT_BLOCK = 256


def latent_v(ratio: float, width) -> int:
    """PLRF's latent dimension of a width-``N`` row, ``v = max(1, round(ratio * N))``."""
    return max(1, int(round(float(ratio) * float(width))))


def _prefix_normal(key, v: int, dtype):
    """``v`` standard normals whose first ``m`` entries are the same for every ``v >= m``: block
    ``k`` of :data:`LATENT_BLOCK` entries is ``normal(fold_in(key, k))``."""
    nb = -(-v // LATENT_BLOCK)
    blocks = jax.vmap(lambda k: draw_normal(jax.random.fold_in(key, k), (LATENT_BLOCK,), dtype))(jnp.arange(nb))
    return blocks.reshape(-1)[:v]


def _prefix_features(key, v: int, N: int, dtype):
    """``(v, N)`` N(0, 1) feature matrix: column ``j`` is :func:`_prefix_normal` of ``fold_in(key, j)``."""
    return jax.vmap(lambda j: _prefix_normal(jax.random.fold_in(key, j), v, dtype))(jnp.arange(N)).T


def _quad_loss(theta, S, c, bDb):
    """1/2 (theta^T S theta - 2 theta^T c + b^T D b), for each row of theta (k, N)."""
    return 0.5 * (jnp.sum((theta @ S) * theta, axis=-1) - 2.0 * theta @ c + bDb)


def _tri_inv(L):
    return solve_triangular(L, jnp.eye(L.shape[0], dtype=L.dtype), lower=True)


def _nested_solve(A, r, sizes):
    """theta_n = A[:n,:n]^{-1} r[:n] for each n in ``sizes`` (static), from ONE Cholesky of A.

    Returns (len(sizes), m) with theta_n zero-padded past n.
    """
    L = jnp.linalg.cholesky(A)
    Linv = _tri_inv(L)
    z = Linv @ r
    m = A.shape[0]
    mask = (jnp.arange(m)[None, :] < jnp.asarray(sizes)[:, None]).astype(A.dtype)
    # theta_n[j] = sum_{i<n} Linv[i, j] z[i]; Linv lower-triangular => j <= i < n automatically.
    return (mask * z[None, :]) @ Linv


def _latent_ols(X, y, shift):
    """Least squares in the latent coordinates, ``(X^T X + shift I)^-1 X^T y`` (P >= v rows)."""
    A = X.T @ X + shift * jnp.eye(X.shape[1], dtype=X.dtype)
    return jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(A), True), X.T @ y)


def _ridge_columns(F, y, S, c, bDb, Ns, Pf, ridge, batched=False):
    """Losses at every width for each finite sample size P, ridge > 0 (``{P: (len(Ns),)}``).

    Same solves as the min-norm path (primal ``(F_PN^T F_PN + P ridge I) theta = F_PN^T y_P``
    for ``N <= P``, one Cholesky per P serving every such N; dual kernel solves for ``N > P``),
    but compiled per *bucket* of sample sizes, not per size: P is rounded up to
    ``Pb = min(next_pow2(P), Pmax)`` and rows past P are masked to zero (exact: zero rows add
    nothing to a Gram or kernel; padded kernel rows get the diagonal ``P ridge > 0`` and a zero
    right-hand side, so they decouple). The sizes of a bucket run through one ``lax.map``, so
    the program has one primal and one dual body per bucket (at most ``log2(Pmax / Pmin) + 1``)
    whatever the number of swept sizes: unrolled static sizes made the 32 x 32 sweep compile
    for ~96 s. Widths are leading columns (column mask) of the one width-``Nmax`` draw.
    ``batched`` (the accelerator program): ``vmap`` instead of ``lax.map``, so the factorisations
    of a bucket run as one batched call instead of one after another (same arithmetic per size).
    """
    over_sizes = (lambda f, xs: jax.vmap(f)(xs)) if batched else jax.lax.map
    Pmax, Nmax = F.shape
    dtype = F.dtype
    Ns_arr = jnp.asarray([int(N) for N in Ns])
    buckets: dict = {}
    for P in Pf:
        buckets.setdefault(min(1 << max(0, (P - 1).bit_length()), Pmax), []).append(P)
    out = {}
    for Pb, Ps_b in buckets.items():
        mb = min(Pb, Nmax)  # every width N <= P <= Pb is a leading block of the first mb features
        Fb, yb = F[:Pb], y[:Pb]
        P_arr = jnp.asarray(Ps_b)

        def primal(P, Fb=Fb, yb=yb, mb=mb, Pb=Pb):
            rows = (jnp.arange(Pb) < P).astype(dtype)
            Fm = Fb[:, :mb] * rows[:, None]
            G = Fm.T @ Fm + P * ridge * jnp.eye(mb, dtype=dtype)
            L = jnp.linalg.cholesky(G)
            Linv = _tri_inv(L)
            z = Linv @ (Fm.T @ yb)
            theta = ((jnp.arange(mb)[None, :] < Ns_arr[:, None]).astype(dtype) * z[None, :]) @ Linv
            return _quad_loss(theta, S[:mb, :mb], c[:mb], bDb)  # (len(Ns),); valid where N <= P

        prim = over_sizes(primal, P_arr)  # (len(Ps_b), len(Ns))
        wide = [int(N) for N in Ns if N > min(Ps_b)]
        if wide:
            def dual(N, Fb=Fb, yb=yb, Pb=Pb, P_arr=P_arr):
                cmask = (jnp.arange(Nmax) < N).astype(dtype)
                K = (Fb * cmask[None, :]) @ Fb.T

                def one(P):
                    rows = (jnp.arange(Pb) < P).astype(dtype)
                    KP = K * rows[:, None] * rows[None, :] + P * ridge * jnp.eye(Pb, dtype=dtype)
                    a = jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(KP), True), yb * rows)
                    return ((a @ Fb) * cmask)

                return _quad_loss(jax.vmap(one)(P_arr), S, c, bDb)  # (len(Ps_b),); valid where N > P

            dl = over_sizes(dual, jnp.asarray(wide))  # (len(wide), len(Ps_b))
        for k, P in enumerate(Ps_b):
            col = prim[k]
            over = [i for i, N in enumerate(Ns) if N > P]
            if over:
                col = col.at[jnp.asarray(over)].set(dl[jnp.asarray([wide.index(int(Ns[i])) for i in over]), k])
            out[P] = col
    return out


def _accumulate_grams(static) -> bool:
    """Form Gram/kernel matrices by accumulation (accelerator program) or directly (CPU program)."""
    return static.get("program", "cpu") == "accelerator"


def evaluate(static, nested, dyn, key):
    """Metrics of one cell at every (width, samples, steps) triple of the group.

    ``learner = "ridge"``: :func:`_evaluate_ridge` (closed form; ``steps = inf`` only), the
    trained learners: :func:`_evaluate_trained`. Metrics have shape
    ``(len(widths), len(samples), len(steps))``.
    """
    if static.get("learner", "ridge") != "ridge":
        return _evaluate_trained(static, nested, dyn, key)
    out = _evaluate_ridge(static, nested, dyn, key)
    if "steps" not in nested:  # direct calls on (width, samples) only: the ridge arrays themselves
        return out
    nT = len(nested["steps"])
    out = {k: jnp.broadcast_to(v[:, :, None], v.shape + (nT,)) for k, v in out.items()}
    out["gap"] = jnp.full(out["loss"].shape, jnp.nan, out["loss"].dtype)
    return out


def _evaluate_trained(static, nested, dyn, key):
    """GD / one-pass SGD losses at every recorded step (see :mod:`toyscale.models.rf_learners`).

    ``gd``: one eigendecomposition per (width, samples) gives the exact population loss at every
    recorded step (``steps = inf``: the limit). ``sgd_expected``: the exact expected loss (closed
    recursion on the diagonal of the error's second moment in the eigenbasis of ``S``). ``sgd``:
    one sampled run per width, all widths in one ``lax.scan``; draws from ``fold_in`` of the
    width and the step, so a row does not depend on the other widths or the longest run.
    Status ``diverged`` where the learner's dynamics are unstable (GD: ``gamma nu > 2`` on an
    excited direction; SGD: the expected recursion has no fixed point) or a sampled loss exceeds
    ``1e3`` times the loss at ``theta = 0``.
    """
    from toyscale.models import rf_learners as lr

    v, learner = static["latent_dim"], static["learner"]
    Ns, Ps, Ts = nested["width"], nested["samples"], nested["steps"]
    if static.get("latent_ratio", 0.0) > 0:
        return _evaluate_plrf_protocol(static, nested, dyn, key)
    alpha, beta, ridge, noise = dyn["alpha"], dyn["beta"], dyn["ridge"], dyn["noise"]
    kW, kX, kb, kn = jax.random.split(key, 4)
    kS = jax.random.fold_in(key, 0x5D5)  # SGD draws (not one of the ridge learner's keys)
    lam, b = _spectrum(v, alpha, beta, static["teacher"], kb)
    dtype = lam.dtype
    gamma = dyn["lr_scale"] / jnp.sum(lam)
    l0 = 0.5 * jnp.sum(lam * b * b)  # loss at theta = 0
    steps = jnp.asarray([float(t) for t in Ts], dtype)
    Pf = [int(P) for P in Ps if math.isfinite(P)]
    Pmax = max(Pf, default=0)
    X = indexed_normal(kX, Pmax, (v,), dtype) * jnp.sqrt(lam)[None, :]
    y = X @ b + noise * indexed_normal(kn, Pmax, (), dtype)
    fin = [int(N) for N in Ns if math.isfinite(N)]
    W = indexed_normal(kW, max(fin), (v,), dtype).T if fin else None
    loss, gap, approx, bad = [], [], [], []
    runs = []
    for N in Ns:
        WN = lr.features(W, N, v, dtype)
        if learner == "gd":
            S, c = lr.moments(WN, lam, b)  # once per width, shared by every sample size
            lp, gp, l_pop, dp = lr.gd_curve(WN, lam, b, S, c, None, None, ridge, gamma, steps)
            rows_l, rows_g, rows_d = [], [], []
            for P in Ps:
                if math.isfinite(P):
                    l_, g_, _, d_ = lr.gd_curve(WN, lam, b, S, c, X[: int(P)], y[: int(P)], ridge, gamma, steps)
                else:
                    l_, g_, d_ = lp, gp, dp
                rows_l.append(l_), rows_g.append(g_), rows_d.append(jnp.broadcast_to(d_, l_.shape))
            loss.append(jnp.stack(rows_l)), gap.append(jnp.stack(rows_g)), bad.append(jnp.stack(rows_d))
            approx.append(jnp.full((len(Ps), len(Ts)), l_pop, dtype))
            continue
        _, _, mu, _, th, lstar = lr.population(WN, lam, b)
        l_inf = lr.sgd_limit(mu, lstar, noise, gamma, static["batch_size"])
        approx.append(jnp.full((1, len(Ts)), lstar, dtype))
        if learner == "sgd_expected":
            l_, _ = lr.sgd_expected_curve(mu, th, lstar, noise, gamma, static["batch_size"], tuple(int(t) for t in Ts))
            loss.append(l_[None]), gap.append((l_ - l_inf)[None])
            bad.append(jnp.broadcast_to(~jnp.isfinite(l_inf), (1, len(Ts))))
        else:
            runs.append((N, mu, th, lstar))
            gap.append(l_inf)  # filled below
    if learner == "sgd":
        curves = lr.sgd_sampled_curves(runs, noise, gamma, static["batch_size"], tuple(int(t) for t in Ts), kS,
                                       static.get("program", "cpu"))
        limits = gap
        gap, bad = [], []
        for l_, l_inf in zip(curves, limits):
            blown = jnp.cumsum(~(jnp.abs(l_) <= lr.DIVERGED_FACTOR * l0)) > 0  # from the first blow-up on
            loss.append(l_[None]), gap.append((l_ - l_inf)[None])
            bad.append((blown | ~jnp.isfinite(l_inf))[None])
    loss, gap, approx, bad = (jnp.stack(a) for a in (loss, gap, approx, bad))
    bad = bad | ~(jnp.abs(loss) <= lr.DIVERGED_FACTOR * l0)
    status = jnp.where(bad, MODEL.status_code("diverged"), 0).astype(jnp.int32)
    return {"loss": loss, "approx": approx, "excess": loss - approx, "gap": gap, "status": status}


def _evaluate_plrf_protocol(static, nested, dyn, key):
    """GD on the population / expected one-pass SGD in PLRF's protocol: each width ``N`` has its
    own latent dimension ``v_N = round(latent_ratio * N)`` (spectrum ``lambda_j = j^-2 alpha``,
    ``j <= v_N``), its own step size ``gamma_N = lr_scale / sum_{j <= v_N} lambda_j`` and its own
    ``v_N x N`` feature draw (column ``j`` from ``fold_in(key, j)``, entries in blocks from
    ``fold_in`` of the block index, so the draw depends on the row's configuration only).
    Metrics as :func:`_evaluate_trained`."""
    from toyscale.models import rf_learners as lr

    learner, ratio = static["learner"], float(static["latent_ratio"])
    Ns, Ts = nested["width"], nested["steps"]
    alpha, beta, ridge, noise = dyn["alpha"], dyn["beta"], dyn["ridge"], dyn["noise"]
    kW, _, kb, _ = jax.random.split(key, 4)
    dtype = jnp.result_type(float)
    steps = jnp.asarray([float(t) for t in Ts], dtype)
    loss, gap, approx, bad, l0s = [], [], [], [], []
    for N in Ns:
        N = int(N)
        v = latent_v(ratio, N)
        j = jnp.arange(1, v + 1, dtype=dtype)
        lam = j ** (-2.0 * alpha)
        b = j ** (-beta) if static["teacher"] == "power" else _prefix_normal(kb, v, dtype)
        gamma = dyn["lr_scale"] / jnp.sum(lam)
        l0s.append(0.5 * jnp.sum(lam * b * b))
        WN = _prefix_features(kW, v, N, dtype) / jnp.sqrt(jnp.asarray(N, dtype))
        if learner == "gd":
            S, c = lr.moments(WN, lam, b)
            l_, g_, l_pop, d_ = lr.gd_curve(WN, lam, b, S, c, None, None, ridge, gamma, steps)
            loss.append(l_[None]), gap.append(g_[None]), bad.append(jnp.broadcast_to(d_, l_.shape)[None])
            approx.append(jnp.full((1, len(Ts)), l_pop, dtype))
            continue
        _, _, mu, _, th, lstar = lr.population(WN, lam, b)
        l_inf = lr.sgd_limit(mu, lstar, noise, gamma, static["batch_size"])
        l_, _ = lr.sgd_expected_curve(mu, th, lstar, noise, gamma, static["batch_size"], tuple(int(t) for t in Ts))
        loss.append(l_[None]), gap.append((l_ - l_inf)[None]), approx.append(jnp.full((1, len(Ts)), lstar, dtype))
        bad.append(jnp.broadcast_to(~jnp.isfinite(l_inf), (1, len(Ts))))
    loss, gap, approx, bad = (jnp.stack(a) for a in (loss, gap, approx, bad))
    l0 = jnp.stack(l0s)[:, None, None]
    bad = bad | ~(jnp.abs(loss) <= lr.DIVERGED_FACTOR * l0)
    status = jnp.where(bad, MODEL.status_code("diverged"), 0).astype(jnp.int32)
    return {"loss": loss, "approx": approx, "excess": loss - approx, "gap": gap, "status": status}


def _evaluate_ridge(static, nested, dyn, key):
    """Exact test losses of one cell at every (width, samples) pair of the group.

    Args:
      static: ``latent_dim``, ``teacher``, ``minnorm`` (ridge == 0 in this group),
        ``width_inf`` (this group holds ``width = inf``), ``program`` (``"cpu"``: per-size
        factorisations from Grams formed directly; ``"accelerator"``: accumulated Grams and
        batched factorisations; the same losses within float64 round-off).
      nested: ``width`` and ``samples``, sorted tuples (``inf`` sorts last).
      dyn: scalars ``alpha``, ``beta``, ``ridge``, ``noise``.
      key: PRNG key of the cell (seed).

    Returns:
      ``loss``, ``approx``, ``excess``: arrays of shape ``(len(widths), len(samples))``.
    """
    v = static["latent_dim"]
    Ns, Ps = nested["width"], nested["samples"]
    ridge = dyn["ridge"]
    kW, kX, kb, kn = jax.random.split(key, 4)
    lam, b = _spectrum(v, dyn["alpha"], dyn["beta"], static["teacher"], kb)
    dtype = lam.dtype
    bDb = jnp.sum(lam * b * b)
    Pf = [int(P) for P in Ps if math.isfinite(P)]
    Pmax = max(Pf, default=0)
    # Sample i and feature j come from fold_in(key, i) / fold_in(key, j): the first P samples and
    # first N features are the same arrays whatever the largest size of the sweep.
    X = indexed_normal(kX, Pmax, (v,), dtype) * jnp.sqrt(lam)[None, :]
    y = X @ b + dyn["noise"] * indexed_normal(kn, Pmax, (), dtype)
    if static["width_inf"]:
        return _latent_features(lam, b, X, y, Ps, ridge)

    accelerator = _accumulate_grams(static)
    Nmax = int(max(Ns))
    W = indexed_normal(kW, Nmax, (v,), dtype).T  # (v, Nmax), column j from fold_in(kW, j)
    # Widths above the latent dimension (N > v) are solved in the v x v or P x P space, never
    # N x N (:func:`_wide_columns`); the widths N <= v in feature space as before.
    narrow = [int(N) for N in Ns if N <= v]
    wide = [int(N) for N in Ns if N > v]
    parts = []
    if narrow:
        parts.append(_narrow_columns(W[:, : max(narrow)], lam, b, bDb, X, y, narrow, Ps, ridge, static["minnorm"], accelerator))
    if wide:
        parts.append(_wide_columns(W, lam, b, X, y, wide, Ps, ridge, static["minnorm"]))
    loss = jnp.concatenate([p_[0] for p_ in parts], axis=0)
    approx = jnp.concatenate([p_[1] for p_ in parts], axis=0)
    return _out(loss, jnp.broadcast_to(approx[:, None], loss.shape))


def _narrow_columns(W, lam, b, bDb, X, y, Ns, Ps, ridge, minnorm, accelerator):
    """``(loss (len(Ns), len(Ps)), approx (len(Ns),))`` for widths ``N <= v`` in feature space:
    one ``N x N`` population matrix ``S = W^T D W`` and the nested primal / dual solves."""
    v = W.shape[0]
    Pf = [int(P) for P in Ps if math.isfinite(P)]
    S = W.T @ (lam[:, None] * W)
    c = W.T @ (lam * b)
    F = X @ W  # (Pmax, Nmax)
    approx_col = _population_column(S, c, bDb, Ns, ridge)
    if not minnorm:  # ridge > 0: sizes in buckets, compile time flat in the number of sizes
        ridge_cols = _ridge_columns(F, y, S, c, bDb, Ns, Pf, ridge, batched=accelerator)
        loss = jnp.stack([ridge_cols[int(P)] if math.isfinite(P) else approx_col for P in Ps], axis=1)
        return loss, approx_col
    dual = _minnorm_dual_losses(F, y, S, c, bDb, Ns, Pf, v, accelerator)
    cols = _minnorm_primal_columns(F, y, S, c, bDb, Ns, Ps, v, ridge, accelerator)
    for j, P in enumerate(Ps):
        if not math.isfinite(P):
            cols[j] = approx_col
            continue
        P = int(P)
        over = [i for i, N in enumerate(Ns) if (int(N), P) in dual]
        if over:
            cols[j] = cols[j].at[jnp.asarray(over)].set(jnp.stack([dual[(int(Ns[i]), P)] for i in over]))
    return jnp.stack(cols, axis=1), approx_col


def _wide_columns(W, lam, b, X, y, Ns, Ps, ridge, minnorm):
    """``(loss (len(Ns), len(Ps)), approx (len(Ns),))`` for widths ``N > v``, without any
    ``N x N`` matrix. The loss depends on ``theta`` only through ``beta = W_N theta`` (``v``
    entries), and with ``G = W_N W_N^T`` (``v x v``, positive definite for ``N > v``) and
    ``c = P ridge``:

    * ``P`` samples, ``theta = F^T (F F^T + c I)^-1 y`` with ``F = X W_N``: ``beta = G X^T (X G X^T + c I)^-1 y``
      (a ``P x P`` solve, used for ``P <= v``), or by the push-through identity
      ``W (W^T A W + c)^-1 W^T = (A + c G^-1)^-1``: ``beta = (X^T X + c G^-1)^-1 X^T y`` (``v x v``,
      used for ``P > v``); min-norm (``c = 0``) with ``P >= v`` is least squares in the latent
      coordinates, ``beta = X^+ y``, the same for every ``N > v``;
    * population, ``theta = (S + ridge I)^-1 W^T D b``: ``beta = (D + ridge G^-1)^-1 D b``
      (min-norm: ``beta = G G^-1 b = b``, the target itself).

    ``minnorm`` (static: ``ridge`` is traced) selects the ridge-0 formulas. ``G`` of the widths
    accumulates over blocks of columns (``G_N' = G_N + W_[N, N') W_[N, N')^T``).
    Loss ``1/2 sum_j lambda_j (beta_j - b_j)^2``. Cost ``O(v^2 N + min(P, v)^3)`` per size
    instead of ``O(N^2 v + N^3)``.
    """
    v, dtype = W.shape[0], W.dtype
    eye = jnp.eye(v, dtype=dtype)
    loss_of = lambda beta: 0.5 * jnp.sum(lam * (beta - b) ** 2)  # noqa: E731
    latent = {}  # min-norm, P >= v: least squares in the latent space, shared by every N > v
    G, prev = jnp.zeros((v, v), dtype), 0
    rows, approx = [], []
    for N in Ns:
        G, prev = G + W[:, prev:N] @ W[:, prev:N].T, N
        LG = jnp.linalg.cholesky(G)
        if minnorm:
            pop = loss_of(G @ jax.scipy.linalg.cho_solve((LG, True), b))
        else:
            Ginv = jax.scipy.linalg.cho_solve((LG, True), eye)
            A = jnp.diag(lam) + ridge * Ginv
            pop = loss_of(jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(A), True), lam * b))
        row = []
        for P in Ps:
            if not math.isfinite(P):
                row.append(pop)
                continue
            P = int(P)
            XP, yP, cP = X[:P], y[:P], P * ridge
            if minnorm and P >= v:
                if P not in latent:
                    latent[P] = loss_of(_latent_ols(XP, yP, 0.0))
                row.append(latent[P])
            elif P <= v:
                K = XP @ G @ XP.T + cP * jnp.eye(P, dtype=dtype)
                a = jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(K), True), yP)
                row.append(loss_of(G @ (XP.T @ a)))
            else:
                H = XP.T @ XP + cP * Ginv
                row.append(loss_of(jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(H), True), XP.T @ yP)))
        rows.append(jnp.stack(row))
        approx.append(pop)
    return jnp.stack(rows), jnp.stack(approx)


def _latent_features(lam, b, X, y, Ps, ridge):
    """``width = inf``: the latent coordinates are the features. A dual (kernel) solve per
    finite ``P < v``, least squares in the latent space for ``P >= v`` (the ``P x P`` kernel has
    rank ``v`` there), and the closed form ``1/2 sum_j lambda_j b_j^2 (ridge / (lambda_j + ridge))^2``
    at ``P = inf``."""
    v, dtype = lam.shape[0], lam.dtype
    shrink = ridge / (lam + ridge)
    pop = jnp.atleast_1d(0.5 * jnp.sum(lam * b * b * shrink * shrink))
    cols = []
    for P in Ps:
        if math.isfinite(P):
            P = int(P)
            if P >= v:  # P x P kernel is singular (rank v) at ridge 0: solve the v x v primal
                theta = _latent_ols(X[:P], y[:P], P * ridge)
            else:
                K = X[:P] @ X[:P].T + P * ridge * jnp.eye(P, dtype=dtype)
                L = jnp.linalg.cholesky(K)
                a = jax.scipy.linalg.cho_solve((L, True), y[:P])
                theta = X[:P].T @ a
            cols.append(jnp.atleast_1d(0.5 * jnp.sum(lam * (theta - b) ** 2)))
        else:
            cols.append(pop)
    loss = jnp.stack(cols, axis=1)
    return _out(loss, jnp.broadcast_to(pop[:, None], loss.shape))


def _population_column(S, c, bDb, widths, ridge):
    """Loss of the population learner ``theta_N = (S_N + ridge I)^-1 c_N`` at every width in
    ``widths`` (``samples = inf``), from one Cholesky of the largest leading block."""
    if not widths:
        return jnp.zeros((0,), S.dtype)
    m = int(max(widths))
    theta = _nested_solve(S[:m, :m] + ridge * jnp.eye(m, dtype=S.dtype), c[:m], widths)
    return _quad_loss(theta, S[:m, :m], c[:m], bDb)


def _minnorm_dual_losses(F, y, S, c, bDb, Ns, Pf, v, accelerator):
    """Min-norm losses for ``P < N`` from kernel (dual) solves: ``{(N, P): loss}``.

    Kernels nest in P for a fixed width N: ``K_N = F[:, :N] F[:, :N]^T`` restricted to its
    leading rows, so one Cholesky of ``K_N`` serves every ``P < N``. How they are formed and
    factorised depends on the program, measured on the benchmark sweep: on a GPU, one kernel
    accumulated over blocks of features (fewest flops) is fastest (0.09 s vs 0.14 s on an H100),
    and the factorisations of every width run as one batched call; on a 2-core CPU the same
    chain of accumulations ran 3x slower under XLA than forming each needed block directly from
    the features (only the leading ``max(P < N)`` rows): 0.99 s vs 1.73 s for the whole sweep.
    """
    Pmax = F.shape[0]
    kernels = {}
    K, prev = jnp.zeros((Pmax, Pmax), F.dtype), 0
    for N in Ns:
        N = int(N)
        small = [P for P in Pf if P < N and not (N > v and P >= v)]
        if accelerator:
            K, prev = K + F[:, prev:N] @ F[:, prev:N].T, N
            if small:
                kernels[N] = K
        elif small:
            m = max(small)
            kernels[N] = F[:m, :N] @ F[:m, :N].T
    systems, smalls = [], []
    for N, KN in kernels.items():
        small = [P for P in Pf if P < N and not (N > v and P >= v)]
        m = max(small)
        systems.append((KN[:m, :m], y[:m], small))
        smalls.append(small)
    dual = {}
    Nmax = F.shape[1]
    for N, small, A in zip(kernels, smalls, _nested_solves(systems, accelerator)):
        m = A.shape[1]  # A: (len(small), m) dual coefficients
        theta = A @ (F[:m] * (jnp.arange(Nmax) < N).astype(F.dtype)[None, :])
        for P, l in zip(small, _quad_loss(theta, S, c, bDb)):
            dual[(N, P)] = l
    return dual


def _minnorm_primal_columns(F, y, S, c, bDb, Ns, Ps, v, ridge, accelerator):
    """Primal solves for ``N <= P``: one column ``(len(Ns),)`` per sample size (NaN where
    ``N > P``; ``inf`` sizes are placeholders). One Cholesky of the Gram of the first P samples,
    restricted to its leading ``m = max(N <= P)`` features, serves every ``N <= P``. The Grams
    are accumulated over blocks of samples and factorised in one batched call (accelerator
    program) or formed directly per P (CPU program): see :func:`_minnorm_dual_losses`."""
    Nmax, dtype = F.shape[1], F.dtype
    G, r, prev = jnp.zeros((Nmax, Nmax), dtype), jnp.zeros((Nmax,), dtype), 0
    systems, where = [], []
    for j, P in enumerate(Ps):
        if not math.isfinite(P):
            continue
        P = int(P)
        prim = [int(N) for N in Ns if N <= P and N <= v]
        if accelerator:
            G, r, prev = G + F[prev:P].T @ F[prev:P], r + F[prev:P].T @ y[prev:P], P
        if prim:
            m = max(prim)
            if accelerator:
                Gm, rm = G[:m, :m], r[:m]
            else:
                Gm, rm = F[:P, :m].T @ F[:P, :m], F[:P, :m].T @ y[:P]
            systems.append((Gm + P * ridge * jnp.eye(m, dtype=dtype), rm, prim))
            where.append(j)
    cols = [jnp.full((len(Ns),), jnp.nan, dtype) for _ in Ps]
    for j, (_, _, prim), theta in zip(where, systems, _nested_solves(systems, accelerator)):
        theta = jnp.pad(theta, ((0, 0), (0, Nmax - theta.shape[1])))
        cols[j] = cols[j].at[: len(prim)].set(_quad_loss(theta, S, c, bDb))
    return cols


def _nested_solves(systems, batched):
    """:func:`_nested_solve` of each ``(A, r, sizes)`` in ``systems``; ``batched``: every
    factorisation in ONE batched Cholesky and triangular inverse (the accelerator program).

    Batching pads each ``A`` (``m x m``) to the largest size ``M`` as ``[[A, 0], [0, I]]`` and
    ``r`` with zeros: the Cholesky factor of that matrix is ``[[L, 0], [0, I]]`` and its inverse
    ``[[L^-1, 0], [0, I]]``, so the leading ``m`` entries of each solution are the unpadded ones
    (exactly in exact arithmetic; float64 round-off from another blocking of the factorisation)
    and the padded entries are exactly 0.
    """
    if not batched or len(systems) < 2:
        return [_nested_solve(A, r, sizes) for A, r, sizes in systems]
    M = max(A.shape[0] for A, _, _ in systems)
    dtype = systems[0][0].dtype
    As, rs = [], []
    for A, r, _ in systems:
        m = A.shape[0]
        eye = jnp.eye(M, dtype=dtype) * (jnp.arange(M) >= m).astype(dtype)[:, None]
        As.append(jnp.pad(A, ((0, M - m), (0, M - m))) + eye)
        rs.append(jnp.pad(r, (0, M - m)))
    L = jnp.linalg.cholesky(jnp.stack(As))
    Linv = solve_triangular(L, jnp.broadcast_to(jnp.eye(M, dtype=dtype), L.shape), lower=True)
    z = jnp.einsum("kij,kj->ki", Linv, jnp.stack(rs))
    out = []
    for i, (A, _, sizes) in enumerate(systems):
        m = A.shape[0]
        mask = (jnp.arange(M)[None, :] < jnp.asarray(sizes)[:, None]).astype(dtype)
        out.append(((mask * z[i][None, :]) @ Linv[i])[:, :m])
    return out


def _out(loss, approx):
    return {"loss": loss, "approx": approx, "excess": loss - approx}


def group_extra(row):
    """Derived static keys: min-norm vs ridge, and the width = inf limit, change the algorithm."""
    if row["learner"] != "ridge":
        return {}
    return {"minnorm": row["ridge"] == 0.0, "width_inf": math.isinf(row["width"])}


def cell_bytes(static, nested):
    """Working memory of one cell (bytes, float64): the draws ``X`` (``P x v``) and ``W``
    (``v x N``), the ``N x N`` (ridge: widths up to ``v``; above, the ``v x v`` Gram) and
    ``P x P`` systems and their factors. The ridge learner's
    ``width = inf`` group forms no features: its draws, one ``P x P`` kernel per sample size
    below ``v`` and, for ``P >= v``, the ``v x v`` latent Gram."""
    v = static["latent_dim"]
    if static.get("latent_ratio", 0.0) > 0:
        v = latent_v(static["latent_ratio"], max([n for n in nested["width"] if math.isfinite(n)] or [1]))
    Ps = [p for p in nested["samples"] if math.isfinite(p)] or [1]
    if static.get("width_inf"):  # ridge learner (group_extra), width = inf: _latent_features
        P = max(Ps)
        V = v if P >= v else 0
        return 8 * (3 * P * v + 4 * P * P + 6 * V * V + 4 * v)
    Ns = [n for n in nested["width"] if math.isfinite(n)] or [v]
    N, P = max(Ns), max(Ps)
    if static.get("learner", "ridge") == "ridge":
        # widths <= v: the N x N systems and the P x N features of the narrow path; widths > v:
        # the v x v Gram and its factors (_wide_columns), never an N x N matrix
        Nn = max([n for n in Ns if n <= v], default=0)
        Vw = v if N > v else 0
        base = 8 * (3 * P * v + 2 * v * N + 6 * Nn * Nn + 4 * P * P + 3 * P * Nn + 6 * Vw * Vw)
        if static.get("program") == "accelerator":  # padded systems, factorised as one batch
            base += 8 * 3 * (len(Ns) + len(Ps)) * max(Nn, P) ** 2
        return base
    base = 8 * (3 * P * v + 2 * v * N + 6 * N * N + 4 * P * P + 3 * P * N)
    T = max([t for t in nested["steps"] if math.isfinite(t)] or [1])
    nT = len(nested["steps"])
    return base + 8 * (4 * N * N + 2 * nT * N + int(T) * len(Ns) * (static["learner"] == "sgd" or 0) + int(T) * 2)


def check_config(values):
    v = values["latent_dim"]
    if any(r > 0 for r in values["latent_ratio"]):
        if set(values["learner"]) - {"gd", "sgd_expected"}:
            raise UserError("latent_ratio", "PLRF's protocol (latent_ratio > 0) is built for learners 'gd' and 'sgd_expected'; "
                                            "allowed: latent_ratio = 0 with learner 'ridge' or 'sgd'")
        if any(math.isinf(n) for n in values["width"]):
            raise UserError("width", "latent_ratio > 0 sets v = latent_ratio * width; allowed: finite widths")
        if any(math.isfinite(p) for p in values["samples"]):
            raise UserError("samples", "latent_ratio > 0 trains on the population; allowed: samples = inf")
        big = max(r for r in values["latent_ratio"]) * max(values["width"])
        if big > 65536:
            raise UserError("latent_ratio", f"latent_ratio * width reaches {big:g}; allowed: at most 65536")
    for name in ("width", "samples"):
        for x in values[name]:
            if name == "width" and math.isfinite(x) and x > 16 * max(v) and not any(r > 0 for r in values["latent_ratio"]):
                raise UserError(f"sweep.{name}", f"{x} is far above latent_dim={max(v)}; allowed: width <= 16 * latent_dim or inf")
    learners = set(values["learner"])
    steps = values["steps"]
    if "ridge" in learners and any(math.isfinite(t) for t in steps):
        raise UserError("steps", "learner 'ridge' has no training steps; allowed: steps = inf (or learner 'gd', 'sgd', "
                                 "'sgd_expected')")
    if learners & {"sgd", "sgd_expected"}:
        if any(math.isfinite(p) for p in values["samples"]):
            raise UserError("samples", "one-pass SGD draws fresh samples every step; allowed: samples = inf")
        if any(math.isinf(t) for t in steps):
            raise UserError("steps", "one-pass SGD records finite steps; allowed: integers in [1, 10000000]")
        if any(r != 0 for r in values["ridge"]):
            raise UserError("ridge", "one-pass SGD here has no ridge; allowed: ridge = 0")
    if any(math.isfinite(t) and t > 10_000_000 for t in steps):
        raise UserError("steps", "allowed: integers in [1, 10000000] or inf")
    if learners & set(TRAINED) and any(math.isinf(n) for n in values["width"]) and max(v) > 8192:
        raise UserError("width", "width = inf with a trained learner decomposes a latent_dim x latent_dim matrix; "
                                 "allowed: latent_dim <= 8192")


def compute(row):
    """Training compute ``f`` of one row (Paquette et al. 2024): ``steps * width * batch_size`` for
    one-pass SGD; ``steps * width * samples`` for GD on P samples and ``steps * width`` for GD on
    the population (Bordelon et al. 2024, ``C = N t``); ``nan`` for the ridge learner."""
    if row["learner"] == "ridge":
        return math.nan
    t, n = float(row["steps"]), float(row["width"])
    if row["learner"] == "gd":
        return t * n * (float(row["samples"]) if math.isfinite(row["samples"]) else 1.0)
    return t * n * float(row["batch_size"])


MODEL = register(
    Model(
        name="random_features",
        summary="random-feature linear regression, ridge/min-norm learner, exact population loss",
        params=PARAMS,
        metrics=METRICS,
        evaluate=evaluate,
        theory=theory.THEORY,
        group_extra=group_extra,
        cell_bytes=cell_bytes,
        check_config=check_config,
        compute=compute,
        # Power-law spectra span condition numbers ~ N^(2 alpha), beyond float32's ~1e7: float32
        # moves the fitted exponents (measured: the IsoFLOP eta of one-pass SGD at alpha 1.4,
        # beta 0.8 falls from 0.77 to 0.38). Every learner computes a deterministic function
        # of the draw, so float32 and float64 differ by rounding only.
        limits=("width <= 16 * latent_dim, or inf",
                "latent_ratio > 0 (PLRF's protocol): learner 'gd' or 'sgd_expected', samples = inf, finite widths, "
                "latent_ratio * width <= 65536",
                "learner 'ridge': steps = inf",
                "learner 'sgd' or 'sgd_expected': samples = inf, finite steps, ridge = 0",
                "width = inf with learner 'gd', 'sgd' or 'sgd_expected': latent_dim <= 8192"),
        precision="float64",
        audit_rule="roundoff",
        device_programs=True,
        example={"seeds": 2, "params": {"latent_dim": 64},
                 "sweep": {"width": [4, 8, 16], "samples": [6, 12, math.inf], "ridge": [0.0, 1e-3]}},
        references=(
            "Maloney, Roberts & Sully 2022, A Solvable Model of Neural Scaling Laws",
            "Bahri, Dyer, Kaplan, Lee & Sharma 2021, Explaining Neural Scaling Laws",
            "Bordelon, Atanasov & Pehlevan 2024, A Dynamical Model of Neural Scaling Laws",
            "Paquette, Paquette, Xiao & Pennington 2024, 4+3 Phases of Compute-Optimal Neural Scaling Laws",
        ),
    )
)
