"""Deterministic equivalents of random-feature regression: whole loss curves, not slopes
(docs/theory.md §1.8).

Notation (PLRF, Paquette, Paquette, Xiao & Pennington 2024): latent ``x ~ N(0, D)``,
``D = diag(lambda)``; target ``y = <b, x> + sigma eps``; features ``z = F^T x`` with ``F`` a
``v x N`` matrix of i.i.d. ``N(0, 1/N)`` entries; loss ``L(theta) = 1/2 E (z.theta - <b, x>)^2``
(clean target, toyscale's convention). ``df1(k) = sum_j lambda_j / (lambda_j + k)`` and
``df2(k) = sum_j lambda_j^2 / (lambda_j + k)^2`` are the degrees of freedom of ``D``.

* **Population, min-norm** (``P = inf``, ridge 0; Bach 2023; Atanasov, Zavatone-Veth &
  Pehlevan 2024): ``L(N) = 1/2 sum_j lambda_j b_j^2 k0 / (lambda_j + k0)`` with
  ``df1(k0) = N`` (``k0 = 0`` once ``N >= v``).
* **Finite P, N and ridge** (two renormalised ridges; the two-level construction of Atanasov,
  Zavatone-Veth & Pehlevan 2024, "Scaling and renormalization in high-dimensional regression",
  section on linear random features). Given ``F`` the features are Gaussian with covariance
  ``S = F^T D F`` and the residual ``y - z.theta*`` is Gaussian, independent of ``z``, with
  variance ``s^2 = 2 L* + sigma^2``; ridge regression on P such samples has the deterministic
  equivalent ``L = L* + 1/2 (B + g s^2) / (1 - g)``, ``B = k1^2 theta*^T S (S + k1)^-2 theta*``,
  ``g = df2_S(k1) / P``, ``k1 = lam (1 - df1_S(k1)/P)^-1``. Averaging over ``F``
  (``F (F^T D F + k1)^-1 F^T ~ (D + k2)^-1``, ``k1 = k2 (1 - df1(k2)/N)``) gives the two coupled
  parameters ``k2 = lam / ((1 - df1(k2)/P)(1 - df1(k2)/N))`` and ``k1``, and

  - ``df2_S(k1) = df1 + (1 - df1/N)(df2 - df1) / (1 - df2/N)`` (all at ``k2``),
  - ``B = C - h - k1 sum_j lambda_j^2 b_j^2 / (lambda_j + k2)^2 / (1 - df2/N)``,
    ``h = sum_j lambda_j^2 b_j^2 / (lambda_j + k2)``, ``C = sum_j lambda_j^2 b_j^2/(lambda_j + k0)``.

  ``lam`` is the ridge of ``(1/P)||F theta - y||^2 + lam ||theta||^2`` with PLRF's ``1/N``
  feature scale; toyscale draws ``N(0, 1)`` entries, so its ``ridge`` is ``lam = ridge / N``
  (:func:`ridge_loss` converts).
* **One-pass SGD** (PLRF, Theorem on the Volterra representation): with
  ``a(z) = 1 - 2 gamma B z + gamma^2 B (B + 1) z^2`` the expected loss solves
  ``G_t = f(t) + sum_{s<t} k(t-1-s) (G_s + s^2)``, ``E L = L* + G_t / 2``, with forcing
  ``f(t) = sum_k mu_k theta*_k^2 a(mu_k)^t`` and kernel ``k(t) = gamma^2 B sum_k mu_k^2 a(mu_k)^t``
  over the spectrum ``mu`` of ``S``. The deterministic equivalent replaces both spectral sums by
  contour integrals of the deterministic resolvent: PLRF's ``m(z) = 1/(1 + (1/N) sum_j
  lambda_j / (lambda_j m - z))`` is ``m = k/k2`` for ``k = -z`` in the equation above, and
  ``sum_k mu_k theta*_k^2 / (mu_k - z) ~ (h(-z) - C)/z``, ``sum_k mu_k^2/(mu_k - z) ~ tr S +
  z df1(k2(-z))``. The contour is two rays ``z = r e^{+-i phi}`` from 0 and an arc beyond the
  spectrum (``|a(z)| < 1`` on it, so ``a^t`` never grows); Gauss-Legendre panels per decade.
* **GD on the population**: ``L(t) = L* + 1/2 sum_k mu_k theta*_k^2 (1 - gamma mu_k)^(2t)``, the
  same forcing measure with ``(1 - gamma z)^(2t)``.

Everything is float64 and jittable (the solvers are fixed-iteration bisection and Newton).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from toyscale.numerics import bisect

#: Bisection steps in log(kappa) over [-LOG_SPAN, LOG_SPAN]: 2 * 700 / 2^120 is far below float64.
BISECT_STEPS = 120
LOG_SPAN = 700.0


def spectrum(alpha, beta, v):
    """``lambda_j = j^(-2 alpha)``, ``b_j = j^(-beta)``, ``j = 1..v`` (the power teacher), float64."""
    j = jnp.arange(1, int(v) + 1, dtype=jnp.float64)
    return j ** (-2.0 * alpha), j ** (-beta)


def df1(lam, k):
    """``sum_j lambda_j / (lambda_j + k)``: the effective number of resolved modes at ridge ``k``."""
    return jnp.sum(lam / (lam + k))


def df2(lam, k):
    """``sum_j lambda_j^2 / (lambda_j + k)^2``."""
    return jnp.sum((lam / (lam + k)) ** 2)


def _bisect_log(fun, lo=-LOG_SPAN, hi=LOG_SPAN):
    """Root of an increasing ``fun(log k)`` by bisection in ``log k`` (fixed steps, jittable)."""
    return jnp.exp(bisect(fun, jnp.float64(lo), jnp.float64(hi), BISECT_STEPS))


def kappa_df(lam, n):
    """``k >= 0`` with ``df1(k) = n`` (``0`` when ``n >= len(lam)``: every mode resolved).

    The implicit ridge of a rank-``n`` projection or of min-norm regression on ``n`` samples
    (Bach 2023; Atanasov, Zavatone-Veth & Pehlevan 2024). ``n`` may be ``inf``.
    """
    n = jnp.asarray(n, jnp.float64)
    full = n >= lam.shape[0]
    k = _bisect_log(lambda lk: n - df1(lam, jnp.exp(lk)))
    return jnp.where(full, 0.0, k)


def population_loss(lam, b, n):
    """Min-norm population loss of ``n`` random features: ``1/2 sum_j lambda_j b_j^2 k/(lambda_j + k)``,
    ``df1(k) = n`` (the projection residual; PLRF's capacity term F0)."""
    k = kappa_df(lam, n)
    return 0.5 * jnp.sum(lam * b * b * k / (lam + k))


def renormalized_ridges(lam, ridge, width, samples):
    """The two coupled parameters ``(k1, k2)`` of random-feature ridge regression.

    ``k2 = ridge / ((1 - df1(k2)/P)(1 - df1(k2)/N))`` on the branch ``df1(k2) < min(N, P)``
    (for ``ridge = 0``: ``df1(k2) = min(N, P)``), ``k1 = k2 (1 - df1(k2)/N)``; ``ridge`` in
    PLRF's scale (features ``N(0, 1/N)``); ``width``/``samples`` may be ``inf``
    (Atanasov, Zavatone-Veth & Pehlevan 2024, linear random features).
    """
    iN = 1.0 / jnp.asarray(width, jnp.float64)
    iP = 1.0 / jnp.asarray(samples, jnp.float64)
    m = jnp.minimum(jnp.asarray(width, jnp.float64), jnp.asarray(samples, jnp.float64))
    kmin = kappa_df(lam, m)

    def g(lk):
        k = jnp.exp(lk)
        d = df1(lam, k)
        ok = d < m
        return jnp.where(ok, k * (1 - d * iP) * (1 - d * iN) - ridge, -1.0)

    k2 = jnp.where(ridge > 0, _bisect_log(g), kmin)
    k1 = k2 * (1.0 - df1(lam, k2) * iN)
    return k1, k2


@functools.partial(jax.jit, static_argnames="ridge_scale")
def ridge_loss(lam, b, width, samples, ridge=0.0, noise=0.0, ridge_scale="toyscale"):
    """Deterministic equivalent of the random-feature ridge / min-norm test loss (module doc).

    Args:
      lam, b: spectrum and target coefficients (length v).
      width: ``N`` (``inf``: the latent coordinates as features); samples: ``P`` (``inf``: population).
      ridge: the penalty; ``ridge_scale = "toyscale"`` (default) reads it as toyscale's ``ridge``
        on ``N(0, 1)`` features, i.e. ``ridge / N`` in PLRF's scale (``ridge`` itself at
        ``width = inf``); ``"plrf"`` takes it as is.
      noise: label-noise standard deviation sigma.

    Returns ``(loss, approx)``: the expected test loss and its ``P = inf``, ridge-0 value
    ``L*`` (toyscale's ``approx`` metric at ridge 0). ``inf`` at the interpolation peak
    ``N = P`` of min-norm regression.
    """
    width = jnp.asarray(width, jnp.float64)
    samples = jnp.asarray(samples, jnp.float64)
    lam_r = jnp.asarray(ridge, jnp.float64)
    if ridge_scale == "toyscale":
        lam_r = jnp.where(jnp.isinf(width), lam_r, lam_r / width)
    iN = 1.0 / width
    k0 = kappa_df(lam, width)
    w2 = lam * lam * b * b
    lstar = 0.5 * jnp.sum(lam * b * b * k0 / (lam + k0))
    k1, k2 = renormalized_ridges(lam, lam_r, width, samples)
    d1, d2 = df1(lam, k2), df2(lam, k2)
    den = 1.0 - d2 * iN
    d2s = d1 + (1.0 - d1 * iN) * (d2 - d1) / den
    C = jnp.sum(w2 / (lam + k0))
    h = jnp.sum(w2 / (lam + k2))
    bias = C - h - k1 * jnp.sum(w2 / (lam + k2) ** 2) / den
    g = d2s / samples
    s2 = 2.0 * lstar + noise * noise
    peak = (lam_r == 0) & (width == samples)  # min-norm interpolation peak: g = 1 exactly
    loss = jnp.where((g < 1.0) & ~peak, lstar + 0.5 * (bias + g * s2) / (1.0 - g), jnp.inf)
    return loss, lstar


# --------------------------------------------------------------------------------------------
# One-pass SGD and population GD: contour quadrature of the deterministic resolvent (PLRF)
# --------------------------------------------------------------------------------------------


def _nodes(lo, hi, per_decade, phi, arc_nodes):
    """Contour nodes z and weights dz: ray r e^{-i phi} outwards, arc, ray r e^{+i phi} inwards."""
    x, w = np.polynomial.legendre.leggauss(16)
    dec = int(math.ceil(math.log10(hi / lo)))
    panels = max(1, int(math.ceil(per_decade / 16))) * dec
    edges = np.linspace(math.log(lo), math.log(hi), panels + 1)
    s = (0.5 * (edges[1:] - edges[:-1])[:, None] * x[None, :] + 0.5 * (edges[1:] + edges[:-1])[:, None]).ravel()
    ws = (0.5 * (edges[1:] - edges[:-1])[:, None] * w[None, :]).ravel()
    r = np.exp(s)
    lower = r * np.exp(-1j * phi)
    dz_lower = lower * ws  # dz = z ds along a ray
    upper = (r * np.exp(1j * phi))[::-1]
    dz_upper = -(upper * ws[::-1])  # inwards
    xa, wa = np.polynomial.legendre.leggauss(arc_nodes)
    th = phi * xa
    arc = hi * np.exp(1j * th)
    dz_arc = 1j * arc * phi * wa
    z = np.concatenate([lower, arc, upper])
    dz = np.concatenate([dz_lower, dz_arc, dz_upper])
    return z, dz


def _k2_complex(lam, n, kappas, x0):
    """``k2`` with ``k2 (1 - df1(k2)/n) = kappa`` for each complex ``kappa``, by Newton with
    continuation along the sequence (each node starts from the previous node's root)."""

    def newton(x, kap):
        def it(_, x):
            q = lam / (lam + x)
            Fx = x - x * jnp.sum(q) / n - kap
            dF = 1.0 - jnp.sum(q * q) / n
            return x - Fx / dF

        x = jax.lax.fori_loop(0, 40, it, x)
        return x, x

    _, xs = jax.lax.scan(newton, x0, kappas)
    return xs


def sgd_quadrature(lam, b, width, *, phi=math.pi / 4, per_decade=48, arc_nodes=48, lo=None, hi=None):
    """Contour nodes ``z``, forcing weights ``cF`` and kernel weights ``cK``: for analytic ``g``,
    ``sum_k mu_k theta*_k^2 g(mu_k) ~ Re sum cF g(z)`` and ``sum_k mu_k^2 g(mu_k) ~ Re sum cK g(z)``
    (deterministic equivalents, PLRF). Returns ``(z, cF, cK, lstar)`` with ``L*`` the capacity floor."""
    lam = np.asarray(lam, float)
    b = np.asarray(b, float)
    n = float(width)
    tot = lam.sum()
    if hi is None:
        hi = 2.0 * (math.sqrt(lam.max()) + math.sqrt(tot / n)) ** 2
    if lo is None:
        lo = 1e-6 * min(lam.min(), lam[min(int(n), lam.size) - 1])
    z, dz = _nodes(lo, hi, per_decade, phi, arc_nodes)
    lamj = jnp.asarray(lam)
    w2 = jnp.asarray(lam * lam * b * b)
    k0 = float(kappa_df(lamj, n))
    C = float(jnp.sum(w2 / (lamj + k0)))
    lstar = 0.5 * float(jnp.sum(lamj * jnp.asarray(b * b) * k0 / (lamj + k0)))
    # Newton continuation from the outer end of each ray (unambiguous branch: k2 ~ -z + tr D / n).
    nl = (len(z) - arc_nodes) // 2
    kap = jnp.asarray(-z, jnp.complex128)
    lamc = lamj.astype(jnp.complex128)
    # lower ray + arc's lower half, walked from the arc's middle inwards; upper half mirrored.
    mid = nl + arc_nodes // 2
    seq_low = np.arange(mid, -1, -1)  # arc middle -> lower ray start
    seq_up = np.arange(mid, len(z))  # arc middle -> upper ray end
    x0 = kap[mid] + tot / n
    k2_low = _k2_complex(lamc, n, kap[seq_low], x0)
    k2_up = _k2_complex(lamc, n, kap[seq_up], x0)
    k2 = jnp.zeros(len(z), jnp.complex128).at[seq_low].set(k2_low).at[seq_up].set(k2_up)
    zz = jnp.asarray(z)
    h = jnp.sum(w2[None, :] / (lamc[None, :] + k2[:, None]), axis=1)
    mF = (h - C) / zz
    mK = zz * jnp.sum(lamc[None, :] / (lamc[None, :] + k2[:, None]), axis=1)
    c = -1.0 / (2j * math.pi) * jnp.asarray(dz)
    return zz, c * mF, c * mK, lstar


def _sgd_contour(lam_np, b, width, gamma, B, quad):
    """Quadrature of :func:`sgd_quadrature` on a contour where ``|a(z)| < 1``: the arc sits between
    the spectrum's edge ``(sqrt(lambda_1) + sqrt(sum lambda / N))^2`` and the stability limit
    ``2 / (gamma (B + 1))`` of ``a`` on the real axis, and the rays' angle halves until ``|a| < 1``
    on every node. Returns ``(z, cF, cK, lstar, a)``."""
    edge = (math.sqrt(lam_np.max()) + math.sqrt(lam_np.sum() / float(width))) ** 2
    zmax = 2.0 / (gamma * (B + 1.0))
    if edge >= zmax:
        raise ValueError("the step size is unstable on the spectrum's edge: lower lr_scale or batch_size")
    quad = dict(quad)
    quad.setdefault("hi", min(2.0 * edge, math.sqrt(edge * zmax)))
    phi = quad.pop("phi", math.pi / 4)
    for _ in range(6):
        z, cF, cK, lstar = sgd_quadrature(lam_np, b, width, phi=phi, **quad)
        a = 1.0 - 2.0 * gamma * B * z + gamma * gamma * B * (B + 1.0) * z * z
        if float(jnp.max(jnp.abs(a))) < 1.0:
            return z, cF, cK, lstar, a
        phi /= 2.0
    raise ValueError("contour leaves |a(z)| < 1: lower lr_scale or phi")


def sgd_curve(lam, b, width, lr_scale, batch, steps, noise=0.0, split=False, **quad):
    """Deterministic equivalent of the expected one-pass SGD loss at the recorded ``steps``.

    ``gamma = lr_scale / sum_j lambda_j`` (toyscale's step). Solves PLRF's discrete Volterra
    equation on the contour nodes of :func:`sgd_quadrature`: each node carries the forcing
    ``a(z)^t`` and the kernel state ``q(t+1) = a(z) q(t) + gamma^2 B (G_t + s^2)``,
    ``G_t = Re sum (cF a^t + cK q)``. Returns ``E L(t)``; with ``split=True`` also the forcing
    part ``1/2 f(t)`` and the kernel part ``1/2 (G_t - f(t))``, so ``E L = L* + forcing + kernel``.
    """
    lam_np = np.asarray(lam, float)
    gamma = lr_scale / lam_np.sum()
    B = float(batch)
    z, cF, cK, lstar, a = _sgd_contour(lam_np, b, width, gamma, B, quad)
    s2 = 2.0 * lstar + noise * noise
    T = int(max(steps))
    kk = gamma * gamma * B

    def step(carry, _):
        p, q = carry  # p = a^(t-1); q = q(t) = sum_{s<t} a^(t-1-s) gamma^2 B (G_s + s^2)
        p = a * p
        f = jnp.real(jnp.sum(cF * p))
        G = f + jnp.real(jnp.sum(cK * q))
        q = a * q + kk * (G + s2)
        return (p, q), (f, G)

    G0 = jnp.real(jnp.sum(cF))
    q0 = jnp.full(z.shape, kk * (G0 + s2), jnp.complex128)
    _, (f, G) = jax.lax.scan(step, (jnp.ones_like(z), q0), None, length=T)
    idx = np.asarray(steps, int) - 1
    f, G = np.asarray(f)[idx], np.asarray(G)[idx]
    loss = lstar + 0.5 * G
    if split:
        return loss, 0.5 * f, 0.5 * (G - f), lstar
    return loss


def sgd_limit(lam, b, width, lr_scale, batch, noise=0.0, **quad):
    """Deterministic equivalent of the ``t -> inf`` limit of the expected constant-step SGD loss:
    ``L_inf = L* + 1/2 s^2 K / (1 - K)``, ``s^2 = 2 L* + sigma^2``, with
    ``K = sum_t k(t) = gamma sum_k mu_k / (2 - gamma (B + 1) mu_k)`` (the summed Volterra kernel;
    ``inf`` when ``K >= 1``). Split as ``mu/(2 - c mu) = mu/2 + c mu^2 / (2 (2 - c mu))``,
    ``c = gamma (B + 1)``: ``tr S ~ sum_j lambda_j`` and the second sum is the kernel measure of
    :func:`sgd_quadrature` against ``1/(2 - c z)``, analytic inside the contour (its pole is
    where ``a(z) = 1``, and ``|a| < 1`` on and inside the contour)."""
    lam_np = np.asarray(lam, float)
    gamma = lr_scale / lam_np.sum()
    B = float(batch)
    c = gamma * (B + 1.0)
    z, _, cK, lstar, _ = _sgd_contour(lam_np, b, width, gamma, B, quad)
    mu2 = float(jnp.real(jnp.sum(cK / (2.0 - c * z))))
    K = gamma * (0.5 * lam_np.sum() + 0.5 * c * mu2)
    s2 = 2.0 * lstar + noise * noise
    return lstar + 0.5 * s2 * K / (1.0 - K) if K < 1.0 else math.inf


def gd_population_curve(lam, b, width, lr_scale, steps, **quad):
    """Deterministic equivalent of population GD from 0: ``L* + 1/2 sum_k mu_k theta*_k^2
    (1 - gamma mu_k)^(2t)`` with the forcing measure of :func:`sgd_quadrature`."""
    lam_np = np.asarray(lam, float)
    z, cF, _, lstar = sgd_quadrature(lam_np, b, width, **quad)
    gamma = lr_scale / lam_np.sum()
    t = jnp.asarray(np.asarray(steps, float))
    g = jnp.exp(2.0 * t[:, None] * jnp.log(1.0 - gamma * z[None, :]))
    return lstar + 0.5 * np.asarray(jnp.real(g @ cF))


# --------------------------------------------------------------------------------------------
# PLRF compute-optimal exponents in every phase
# --------------------------------------------------------------------------------------------


#: Boundary between phases IVa and IVb: the noise term's width exponent changes sign at
#: ``2 alpha^2 - 4 alpha + 1 = 0`` (derived; docs/theory.md §1.6).
ALPHA_IV = 1.0 - 1.0 / math.sqrt(2.0)


def plrf_phase(alpha: float, beta: float) -> tuple[str, float | None, float | None]:
    """``(phase, xi, eta)`` of one-pass SGD's compute-optimal frontier, ``d* ~ f^xi``,
    ``L* ~ f^-eta``, ``f = steps * d`` (Paquette, Paquette, Xiao & Pennington 2024; docs/theory.md §1.6).

    Regions: Ia ``2a > 1, 2b < 1``; II ``2a > 1, 2b > 1, b < a``; III ``2a > 1, b > a``;
    Ib ``2b < 1, a < 1/2`` (the paper proves it for ``a > 1/4`` and states it believes it below);
    Ic ``2b > 1, a < 1/4``; IVa ``2b > 1, 1/4 < a < 1 - 1/sqrt(2)``; IVb ``2b > 1,
    1 - 1/sqrt(2) < a < 1/2``; outside ``2a + 2b > 1``: ``"none"``. With ``s = 2a + 2b - 1``:
    Ia ``(1/(2a+1), s/(2a+1))``; II ``(b/(a+b), s/(2(a+b)))``; III ``(1/2, 1 - 1/(4a))``;
    Ib ``(1/2, s/2)`` (the paper's table). Derived here from the loss decomposition
    ``L ~ F_pp(tau) + F_0(d) + N(tau, d)`` with ``v ~ d``, ``gamma ~ d^(2a-1)``, ``tau = gamma t``,
    ``t = f/d``: ``F_pp = tau^(-s/(2a))``, ``F_0 = d^(-2a)``, SGD noise
    ``N = gamma tau^-(2 - 1/(2a))`` (``K_pp`` times the converged ``sum_s F_pp``):
    Ic (F_pp = F_0) ``xi = 1/(2 - 2a + 4a^2/s)``, ``eta = 2 a xi``; IVa (F_pp = N)
    ``xi = 1/(2 - 2a + a(1 - 2a)/(b - a))``, ``eta = xi s (1 - 2a)/(2(b - a))``; IVb (N = F_0)
    ``(1/2, a)``. ``eta`` is continuous across every boundary, ``xi`` across all but IVa | IVb
    (where the noise term is flat in ``d``).

    >>> plrf_phase(1.0, 2.0)
    ('III', 0.5, 0.75)
    >>> [plrf_phase(0.27, 1.0)[0], plrf_phase(0.4, 1.0)]
    ['IVa', ('IVb', 0.5, 0.4)]
    """
    a, b = float(alpha), float(beta)
    s = 2 * a + 2 * b - 1
    if s <= 0:
        return "none", None, None
    if 2 * a > 1:
        if 2 * b < 1:
            return "Ia", 1 / (2 * a + 1), s / (2 * a + 1)
        if b < a:
            return "II", b / (a + b), s / (2 * (a + b))
        return "III", 0.5, 1 - 1 / (4 * a)
    if 2 * b < 1:
        return "Ib", 0.5, s / 2
    if a < 0.25:
        xi = 1 / (2 - 2 * a + 4 * a * a / s)
        return "Ic", xi, 2 * a * xi
    if a < ALPHA_IV:
        xi = 1 / (2 - 2 * a + a * (1 - 2 * a) / (b - a))
        return "IVa", xi, xi * s * (1 - 2 * a) / (2 * (b - a))
    return "IVb", 0.5, a
