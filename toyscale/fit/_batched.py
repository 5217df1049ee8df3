"""Thousands of independent fits in one jitted call (one per phase-diagram cell).

A vmapped ``while_loop`` runs until its slowest lane finishes (jax-ml/jax #20628), so every
estimator here uses a fixed amount of work: a fixed exponent grid and a fixed number of
golden-section steps (variable projection), or a fixed number of optimiser steps.

They compute in float64 whatever the global setting (each switches JAX's 64-bit mode on for its
own call with ``jax.enable_x64``), to match the SciPy path to 1e-4 or better.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from toyscale.numerics import with_x64

_GOLD = 0.5 * (np.sqrt(5.0) - 1.0)


@with_x64
def fit_offset_batched(x, Y, *, a_max: float = 6.0, grid: int = 300, steps: int = 60):
    """Fit ``y = E + A x^(-a)`` to each row of ``Y`` by variable projection, all at once.

    Same estimator as :func:`toyscale.fit.fit_offset_power_law` (relative residual
    ``sum_j ((E + A x_j^-a) / y_j - 1)^2``, NNLS for (E, A) >= 0): the exponent is located on a
    ``grid`` of ``(0.02, a_max]`` and refined by ``steps`` golden-section iterations (one new
    residual each) inside the bracketing grid cells.

    The grid stage needs, per curve and grid exponent, only five weighted sums
    (``sum w``, ``sum w f``, ``sum w f^2`` with ``w = 1/y^2``, and ``sum f/y``, ``sum 1/y``,
    ``f = x^-a``), so for a shared ``x`` it is two (c, n) x (n, grid) matrix products; the
    2 x 2 NNLS is solved in closed form from them.

    Args:
      x: (n,) axis values shared by all curves, or (c, n).
      Y: (c, n) positive curves.

    Returns:
      dict of (c,) arrays ``slope`` (= -a), ``A``, ``E``, ``rss`` (relative residual sum of squares).
    """
    Y = jnp.asarray(Y)
    return _offset_kernel(jnp.asarray(x, Y.dtype), Y, a_max, grid, steps)


def _nnls2_sums(g00, g01, g11, h0, h1, n):
    """Closed-form 2-column NNLS from the normal-equation sums; returns (E, A, rss) (broadcast)."""
    det = g00 * g11 - g01 ** 2
    eb, ab = (g11 * h0 - g01 * h1) / det, (g00 * h1 - g01 * h0) / det
    both_ok = (eb >= 0) & (ab >= 0)
    e0 = jnp.maximum(h0 / g00, 0.0)          # A = 0
    a1 = jnp.maximum(h1 / g11, 0.0)          # E = 0
    r_both = jnp.where(both_ok, n - (eb * h0 + ab * h1), jnp.inf)  # at the unconstrained optimum
    r0 = n - 2 * e0 * h0 + e0 ** 2 * g00
    r1 = n - 2 * a1 * h1 + a1 ** 2 * g11
    r_both, r0, r1 = jnp.broadcast_arrays(r_both, r0, r1)
    i = jnp.argmin(jnp.stack([r_both, r0, r1]), axis=0)
    E = jnp.where(i == 0, eb, jnp.where(i == 1, e0, 0.0))
    A = jnp.where(i == 0, ab, jnp.where(i == 1, 0.0, a1))
    return E, A, jnp.minimum(jnp.minimum(r_both, r0), r1)


def _refine(x, Y, lo, hi, steps):
    """Golden-section search of the exact relative residual on [lo, hi] per curve (vectorised)."""
    w1 = 1.0 / Y                                  # loop invariants: only f = x^-a changes
    w2 = w1 * w1
    g00, h0 = jnp.sum(w2, 1), jnp.sum(w1, 1)

    def rss(a):
        f = x ** (-a[:, None])
        E, A, _ = _nnls2_sums(g00, jnp.sum(w2 * f, 1), jnp.sum(w2 * f * f, 1), h0, jnp.sum(w1 * f, 1), x.shape[1])
        r = (E[:, None] + A[:, None] * f) * w1 - 1.0
        return jnp.sum(r * r, 1), E, A

    c, d = hi - _GOLD * (hi - lo), lo + _GOLD * (hi - lo)
    fc, fd = rss(c)[0], rss(d)[0]

    def step(_, s):
        lo, hi, c, d, fc, fd = s
        left = fc < fd
        # left: the minimum is in [lo, d]; new points c' = d - g (d - lo), d' = c (reuse fc)
        nlo, nhi = jnp.where(left, lo, c), jnp.where(left, d, hi)
        new = jnp.where(left, nhi - _GOLD * (nhi - nlo), nlo + _GOLD * (nhi - nlo))
        fnew = rss(new)[0]
        nc, nd = jnp.where(left, new, d), jnp.where(left, c, new)
        nfc, nfd = jnp.where(left, fnew, fd), jnp.where(left, fc, fnew)
        return nlo, nhi, nc, nd, nfc, nfd

    lo, hi, *_ = jax.lax.fori_loop(0, steps, step, (lo, hi, c, d, fc, fd))
    a = 0.5 * (lo + hi)
    r, E, A = rss(a)
    return {"slope": -a, "A": A, "E": E, "rss": r}


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _offset_kernel(x, Y, a_max, grid, steps):
    """Grid stage + golden-section refinement; ``x`` is (n,) shared or (c, n) per curve."""
    agrid = jnp.linspace(0.02, a_max, grid, dtype=Y.dtype)
    P = x[..., None, :] ** (-agrid[:, None])      # (grid, n) shared, (c, grid, n) per curve
    sub = "cn,gn->cg" if x.ndim == 1 else "cn,cgn->cg"  # shared x: plain matrix products
    w1 = 1.0 / Y
    w2 = w1 * w1
    _, _, res = _nnls2_sums(jnp.sum(w2, 1)[:, None], jnp.einsum(sub, w2, P), jnp.einsum(sub, w2, P * P),
                            jnp.sum(w1, 1)[:, None], jnp.einsum(sub, w1, P), Y.shape[1])
    i = jnp.argmin(res, axis=1)
    lo, hi = agrid[jnp.maximum(i - 1, 0)], agrid[jnp.minimum(i + 1, grid - 1)]
    return _refine(jnp.broadcast_to(x, Y.shape), Y, lo, hi, steps)


def fit_power_batched(x, Y):
    """Least squares ``log y = log A + slope log x`` for each row of ``Y`` (closed form)."""
    Y = jnp.asarray(Y)
    lx = jnp.log(jnp.broadcast_to(jnp.asarray(x, Y.dtype), Y.shape))
    ly = jnp.log(Y)
    mx, my = lx.mean(1, keepdims=True), ly.mean(1, keepdims=True)
    slope = jnp.sum((lx - mx) * (ly - my), 1) / jnp.sum((lx - mx) ** 2, 1)
    return {"slope": slope, "A": jnp.exp(my[:, 0] - slope * mx[:, 0])}


def huber_objective_jax(theta, logN, logD, logL, delta=1e-3):
    """Sum of Huber(delta) terms of ``LSE(a' - a log N, b' - b log D, e') - log L``."""
    ap, bp, ep, a, b = theta
    t = jnp.stack([ap - a * logN, bp - b * logD, jnp.full_like(logN, ep)])
    r = jax.scipy.special.logsumexp(t, axis=0) - logL
    ar = jnp.abs(r)
    return jnp.sum(jnp.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta)))


@with_x64
def fit_joint_huber_batched(N, D, L, starts, *, delta: float = 1e-3, steps: int = 60, max_backtracking: int = 8):
    """Run L-BFGS (optax, fixed ``steps``) from every start at once; return all end points.

    Returns ``(thetas (k, 5), objectives (k,))``; :func:`toyscale.fit.fit_joint_huber` with
    ``starts=[best]`` polishes the best one with SciPy's L-BFGS-B.
    """
    logN, logD, logL = (jnp.log(jnp.asarray(v)) for v in (N, D, L))
    return _huber_kernel(logN, logD, logL, jnp.asarray(starts), delta, steps, max_backtracking)


@functools.partial(jax.jit, static_argnums=(4, 5, 6))
def _huber_kernel(logN, logD, logL, starts, delta, steps, max_backtracking):
    import optax

    f = lambda th: huber_objective_jax(th, logN, logD, logL, delta)  # noqa: E731
    opt = optax.lbfgs(linesearch=optax.scale_by_backtracking_linesearch(max_backtracking_steps=max_backtracking, store_grad=True))
    vg = optax.value_and_grad_from_state(f)

    def run(theta):
        def step(carry, _):
            theta, state = carry
            value, grad = vg(theta, state=state)
            updates, state = opt.update(grad, state, theta, value=value, grad=grad, value_fn=f)
            return (optax.apply_updates(theta, updates), state), None

        (theta, _), _ = jax.lax.scan(step, (theta, opt.init(theta)), None, length=steps)
        return theta, f(theta)

    return jax.vmap(run)(starts)
