"""Trained learners of the random-feature model: gradient descent and one-pass SGD.

Notation (PLRF, Paquette et al. 2024): latent ``x ~ N(0, D)``, ``D = diag(lambda)``, target
``y = <b*, x> + sigma eps``; features ``z = W_N^T x`` with ``W_N = W[:, :N] / sqrt(N)`` (the
first N columns of ONE ``N(0, 1)`` draw, scaled to PLRF's ``N(0, 1/N)``; ``width = inf`` uses
the latent coordinates, ``W = I``). Population loss ``L(theta) = 1/2 ||D^(1/2)(W_N theta - b*)||^2``
(clean target); ``S = W_N^T D W_N``, ``c = W_N^T D b*``, ``theta*`` the min-norm population
optimum (``S theta* = c``), ``L* = L(theta*)``. Step size ``gamma = lr_scale / sum_j lambda_j``.

* **GD** (Bordelon, Atanasov & Pehlevan 2024): ``theta_{t+1} = theta_t - gamma (G theta_t - r)``,
  ``G = F^T F / P + ridge I``, ``r = F^T y / P`` on P samples (``G = S + ridge I``, ``r = c`` on
  the population). With ``G = U diag(nu) U^T`` and ``rho = U^T r``, from ``theta_0 = 0``:
  ``theta_t - theta_inf = -U diag((1 - gamma nu)^t / nu) rho``, so one eigendecomposition gives
  ``L(theta_t) - L(theta_inf) = d^T (S theta_inf - c) + 1/2 d^T S d`` at every ``t``.
* **One-pass SGD** (PLRF): ``theta <- theta - gamma sum_{i in batch} z_i (z_i^T theta - y_i)``
  with B fresh samples per step. Since ``y = z^T theta* + e`` with ``e ~ N(0, s^2)``,
  ``s^2 = 2 L* + sigma^2``, independent of ``z`` (``Cov(z, e) = c - S theta* = 0``), and the
  update is equivariant under rotations of ``theta``, the process is sampled exactly in the
  eigenbasis of ``S = U diag(mu) U^T``: ``z~ = sqrt(mu) g``, ``g ~ N(0, I_N)``; the error
  ``e~ = U^T (theta - theta*)`` moves by ``-gamma z~ (z~^T e~ - e)``. O(B N) per step instead
  of the O(B v N) of forming ``W^T x``; the loss is ``L* + 1/2 sum_k mu_k e~_k^2``.
* **Expected one-pass SGD** on Gaussian data: with ``E[z z^T A z z^T] = 2 S A S + tr(S A) S``
  the diagonal ``m_k = E e~_k^2`` obeys the closed linear recursion
  ``m_k' = (1 - 2 gamma B mu_k + gamma^2 B (B+1) mu_k^2) m_k + gamma^2 B mu_k (sum_l mu_l m_l + s^2)``
  and ``E L = L* + 1/2 sum_k mu_k m_k``. Its fixed point gives the constant-step-size limit
  ``L_inf = L* + T/2``, ``T = s^2 Q / (1 - Q)``, ``Q = sum_k gamma mu_k / (2 - gamma (B+1) mu_k)``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from toyscale.models.base import normal as draw_normal

#: Relative eigenvalue below which a direction counts as the null space of S (min-norm optimum).
NULL_TOL = 1e-12
#: A run whose loss exceeds this multiple of the loss at theta = 0 is reported ``diverged``.
DIVERGED_FACTOR = 1e3


def features(W, N, v, dtype):
    """``W_N`` (v, N): the first N columns over sqrt(N), or the identity for ``N = inf``."""
    if math.isinf(N):
        return jnp.eye(v, dtype=dtype)
    return W[:, : int(N)] / jnp.sqrt(jnp.asarray(N, dtype))


def population(WN, lam, b):
    """``S``, ``c``, eigenpairs of S, the min-norm optimum ``theta*`` in the eigenbasis and ``L*``."""
    S, c = moments(WN, lam, b)
    mu, U = jnp.linalg.eigh(S)
    mu = jnp.maximum(mu, 0.0)
    live = mu > NULL_TOL * jnp.max(mu)
    ct = U.T @ c
    th = jnp.where(live, ct / jnp.where(live, mu, 1.0), 0.0)
    res = WN @ (U @ th) - b
    lstar = 0.5 * jnp.sum(lam * res * res)
    return S, c, mu, U, th, lstar


def _pow(base, t):
    """``base ** t`` for an integer-valued float ``t >= 0`` and a base of any sign (t = inf: 0)."""
    mag = jnp.where(jnp.isinf(t), 0.0, jnp.exp(jnp.where(jnp.isinf(t), 0.0, t) * jnp.log(jnp.abs(base))))
    odd = jnp.mod(jnp.where(jnp.isinf(t), 0.0, t), 2.0) == 1.0
    sign = jnp.where((base < 0) & odd, -1.0, 1.0)
    return jnp.where(base == 0, jnp.where(t == 0, 1.0, 0.0), sign * mag)


def moments(WN, lam, b):
    """Population moments of the features: ``S = W_N^T D W_N`` and ``c = W_N^T D b``."""
    return WN.T @ (lam[:, None] * WN), WN.T @ (lam * b)


def gd_curve(WN, lam, b, S, c, X, y, ridge, gamma, steps):
    """Exact population loss of GD from 0 at every recorded step (one eigendecomposition).

    Args: ``WN`` (v, N) features; ``S, c`` their :func:`moments` (computed once per width and
    shared by every sample size); ``X`` (P, v), ``y`` (P,) the training set or ``None`` for the
    population; ``steps`` a float array of recorded steps (``inf``: the limit).
    Returns ``(loss, gap, l_inf, diverged)``: ``loss`` and ``gap = L(theta_t) - L(theta_inf)`` of
    shape ``(len(steps),)``, the loss of the GD limit ``theta_inf`` and whether
    ``|1 - gamma nu| > 1`` on a direction the data excite.
    """
    N = WN.shape[1]
    eye = jnp.eye(N, dtype=S.dtype)
    if X is None:
        G, r = S + ridge * eye, c
    else:
        F = X @ WN
        P = X.shape[0]
        G, r = F.T @ F / P + ridge * eye, F.T @ y / P
    nu, U = jnp.linalg.eigh(G)
    nu = jnp.maximum(nu, 0.0)
    rho = U.T @ r
    live = nu > NULL_TOL * jnp.max(nu)
    inv = jnp.where(live, 1.0 / jnp.where(live, nu, 1.0), 0.0)
    th_inf = rho * inv  # theta_inf in the eigenbasis of G (GD never moves along the null space)
    St = U.T @ S @ U
    lin = St @ th_inf - U.T @ c  # gradient of L at theta_inf, eigenbasis of G
    decay = _pow(1.0 - gamma * nu[None, :], steps[:, None])  # (T, N)
    d = -decay * th_inf[None, :]
    gap = d @ lin + 0.5 * jnp.sum((d @ St) * d, axis=1)
    res = WN @ (U @ th_inf) - b
    l_inf = 0.5 * jnp.sum(lam * res * res)
    diverged = jnp.any(live & (jnp.abs(rho) > 0) & (gamma * nu > 2.0))
    return l_inf + gap, gap, l_inf, diverged


def sgd_expected_curve(mu, th, lstar, noise, gamma, batch, record):
    """Expected one-pass SGD loss at the recorded steps (closed recursion, see module doc).

    ``mu``, ``th``: eigenvalues of S and ``theta*`` in its eigenbasis; ``record``: sorted tuple
    of recorded steps (static). Returns ``(loss, l_inf)``: ``(len(record),)`` and the
    constant-step-size limit (``inf`` when the recursion is unstable).
    """
    B = float(batch)
    s2 = 2.0 * lstar + noise * noise
    a = 1.0 - 2.0 * gamma * B * mu + gamma * gamma * B * (B + 1.0) * mu * mu
    k = gamma * gamma * B * mu
    T = int(max(record))

    def step(m, _):
        m = a * m + k * (jnp.dot(mu, m) + s2)
        return m, 0.5 * jnp.dot(mu, m)

    _, gaps = jax.lax.scan(step, th * th, None, length=T)
    gaps = gaps[np.asarray(record, int) - 1]
    return lstar + gaps, sgd_limit(mu, lstar, noise, gamma, batch)


def sgd_limit(mu, lstar, noise, gamma, batch):
    """Constant-step-size limit of the expected SGD loss, ``L* + T/2`` (``inf`` if unstable)."""
    B = float(batch)
    s2 = 2.0 * lstar + noise * noise
    den = 2.0 - gamma * (B + 1.0) * mu
    Q = jnp.sum(jnp.where(mu > 0, gamma * mu / jnp.where(den > 0, den, 1.0), 0.0))
    stable = jnp.all(den > 0) & (Q < 1.0)
    return jnp.where(stable, lstar + 0.5 * s2 * Q / jnp.where(stable, 1.0 - Q, 1.0), jnp.inf)


#: Steps whose Gaussian draws are made at once (one counter-based draw per block of steps).
SGD_BLOCK = 64


def sgd_sampled_curves(runs, noise, gamma, batch, record, key, program="cpu"):
    """Sampled one-pass SGD at every width: :func:`sgd_sampled_per_width` (``program = "cpu"``)
    or :func:`sgd_sampled_padded` (``"accelerator"``); the same curves within float64 round-off.
    """
    if program == "accelerator" and len(runs) > 1:
        return sgd_sampled_padded(runs, noise, gamma, batch, record, key)
    return sgd_sampled_per_width(runs, noise, gamma, batch, record, key)


def _block_draws(kN, bi, K, B, N, rt, sd, dtype):
    """The Gaussian draws of block ``bi`` of one width: ``z~`` ``(K, B, N)`` and ``e`` ``(K, B)``.

    From ``fold_in(kN, bi)`` only, with the width's own shape, so every program draws the same
    numbers for a width whatever it is computed with.
    """
    kg, ke = jax.random.split(jax.random.fold_in(kN, bi))
    zs = draw_normal(kg, (K, B, N), dtype) * rt[None, None, :]
    es = sd * draw_normal(ke, (K, B), dtype)
    return zs, es


def _width_key(key, N):
    return jax.random.fold_in(key, int(min(N, 2**31 - 1)))


def sgd_sampled_padded(runs, noise, gamma, batch, record, key):
    """Sampled one-pass SGD, every width in ONE ``lax.scan`` (the accelerator program).

    Each width's error vector is zero-padded to the largest width ``Nmax``; its draws are those
    of :func:`sgd_sampled_per_width` (:func:`_block_draws` at the width's own shape), padded with
    zero columns, and its eigenvalues are padded with zeros. A padded coordinate starts at 0,
    sees ``z = 0`` and so stays exactly 0, and adds exact zeros to every inner product: each
    width's curve is the per-width one up to the order of floating-point summation (float64
    round-off). One scan step updates every width with one batched contraction, which keeps an
    accelerator busy where the per-width program runs ``len(widths)`` tiny scans one after
    another; under the engine's ``vmap`` the seeds of a chunk share the same scan.
    """
    B, K = int(batch), SGD_BLOCK
    T = int(max(record))
    nb = -(-T // K)
    idx = np.asarray(record, int) - 1
    sizes = [int(mu.shape[0]) for _, mu, _, _ in runs]
    Nmax = max(sizes)
    dtype = runs[0][1].dtype

    def pad(a, n):
        return jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, Nmax - n)])

    keys = [_width_key(key, N) for N, _, _, _ in runs]
    sds = [jnp.sqrt(2.0 * lstar + noise * noise) for _, _, _, lstar in runs]
    rts = [jnp.sqrt(mu) for _, mu, _, _ in runs]
    mus = jnp.stack([pad(mu, n) for (_, mu, _, _), n in zip(runs, sizes)])  # (W, Nmax)
    e0 = jnp.stack([pad(-th, n) for (_, _, th, _), n in zip(runs, sizes)])

    def block(e, bi):
        draws = [_block_draws(k, bi, K, B, n, rt, sd, dtype) for k, n, rt, sd in zip(keys, sizes, rts, sds)]
        zs = jnp.stack([pad(z, n) for (z, _), n in zip(draws, sizes)], axis=1)  # (K, W, B, Nmax)
        es = jnp.stack([d[1] for d in draws], axis=1)  # (K, W, B)

        def step(e, ze):
            z, eps = ze
            r = jnp.einsum("wbn,wn->wb", z, e) - eps
            e = e - gamma * jnp.einsum("wbn,wb->wn", z, r)
            return e, 0.5 * jnp.sum(mus * e * e, axis=1)

        return jax.lax.scan(step, e, (zs, es))

    _, gaps = jax.lax.scan(block, e0, jnp.arange(nb))  # (nb, K, W)
    gaps = gaps.reshape(-1, len(runs))[idx]
    return [lstar + gaps[:, i] for i, (_, _, _, lstar) in enumerate(runs)]


def sgd_sampled_per_width(runs, noise, gamma, batch, record, key):
    """Sampled one-pass SGD, one ``lax.scan`` over blocks of steps per width (the CPU program).

    ``runs``: list of ``(N, mu, th, lstar)`` per width. The draws of steps ``[K b, K (b+1))`` of
    width N (``K = SGD_BLOCK``) are one ``(K, B, N)`` array from ``fold_in(fold_in(key, N), b)``,
    so a width's curve does not depend on the other widths or on the longest recorded step
    (steps past it in its last block are computed and discarded). Drawing per block instead of
    per step: 12.2 s -> 5.8 s for the benchmark frontier without compilation (per-step key
    derivation and draws dominated).
    Returns one ``(len(record),)`` loss array per width.

    One scan per width (not one scan carrying every width): on the CPU, a scan body with several
    independent chains of tiny ops hands work between XLA's threads at every step, which on a
    loaded 2-core machine cost milliseconds per step (measured: 5 widths, 3 000 steps took
    minutes instead of about a second).
    """
    B, K = int(batch), SGD_BLOCK
    T = int(max(record))
    nb = -(-T // K)
    idx = np.asarray(record, int) - 1
    out = []
    for N, mu, th, lstar in runs:
        kN = _width_key(key, N)
        sd = jnp.sqrt(2.0 * lstar + noise * noise)
        rt = jnp.sqrt(mu)

        def block(e, bi, kN=kN, sd=sd, rt=rt, mu=mu):
            zs, es = _block_draws(kN, bi, K, B, e.shape[0], rt, sd, e.dtype)

            def step(e, ze):
                z, eps = ze
                e = e - gamma * (z.T @ (z @ e - eps))
                return e, 0.5 * jnp.dot(mu, e * e)

            return jax.lax.scan(step, e, (zs, es))

        _, gaps = jax.lax.scan(block, -th, jnp.arange(nb))
        out.append(lstar + gaps.reshape(-1)[idx])
    return out
