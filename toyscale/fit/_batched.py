"""Thousands of independent fits in one jitted call (one per phase-diagram cell).

A vmapped ``while_loop`` runs until its slowest lane finishes (jax-ml/jax #20628), so every
estimator here uses a fixed amount of work: a fixed exponent grid and a fixed number of
golden-section steps (variable projection), or a fixed number of optimiser steps.

Call these with 64-bit mode on (``jax.config.update("jax_enable_x64", True)`` at start-up, as
``toyscale run`` does for float64 experiments) to match the SciPy path to 1e-4 or better.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

_GOLD = 0.5 * (np.sqrt(5.0) - 1.0)


def _nnls2(M, t):
    """min ||M c - t||^2 over c >= 0 for M with 2 columns, closed form (all 4 active sets)."""
    G = M.T @ M
    h = M.T @ t
    det = G[0, 0] * G[1, 1] - G[0, 1] ** 2
    c_both = jnp.array([G[1, 1] * h[0] - G[0, 1] * h[1], G[0, 0] * h[1] - G[0, 1] * h[0]]) / det
    c0 = jnp.array([jnp.maximum(h[0] / G[0, 0], 0.0), 0.0])
    c1 = jnp.array([0.0, jnp.maximum(h[1] / G[1, 1], 0.0)])
    cands = jnp.stack([jnp.where(jnp.all(c_both >= 0), c_both, c0), c0, c1])
    res = jnp.sum((cands @ M.T - t) ** 2, axis=1)
    i = jnp.argmin(res)
    return cands[i], res[i]


def _vp_offset_one(x, y, a):
    M = jnp.stack([jnp.ones_like(x), x ** (-a)], axis=1) / y[:, None]
    return _nnls2(M, jnp.ones_like(y))


def fit_offset_batched(x, Y, *, a_max: float = 6.0, grid: int = 300, steps: int = 60):
    """Fit ``y = E + A x^(-a)`` to each row of ``Y`` by variable projection, all at once.

    Same estimator as :func:`toyscale.fit.fit_offset_power_law` (relative residual, NNLS for
    (E, A) >= 0): the exponent is located on a ``grid`` of ``(0.02, a_max]`` and refined by
    ``steps`` golden-section iterations inside the bracketing grid cells.

    Args:
      x: (n,) axis values shared by all curves, or (c, n).
      Y: (c, n) positive curves.

    Returns:
      dict of (c,) arrays ``slope`` (= -a), ``A``, ``E``, ``rss`` (relative residual sum of squares).
    """
    Y = jnp.asarray(Y)
    x = jnp.broadcast_to(jnp.asarray(x, Y.dtype), Y.shape)
    return _offset_kernel(x, Y, a_max, grid, steps)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _offset_kernel(x, Y, a_max, grid, steps):
    agrid = jnp.linspace(0.02, a_max, grid, dtype=Y.dtype)

    def one(xc, yc):
        res = jax.vmap(lambda a: _vp_offset_one(xc, yc, a)[1])(agrid)
        i = jnp.argmin(res)
        lo, hi = agrid[jnp.maximum(i - 1, 0)], agrid[jnp.minimum(i + 1, grid - 1)]
        f = lambda a: _vp_offset_one(xc, yc, a)[1]  # noqa: E731

        def step(_, s):
            lo, hi = s
            c, d = hi - _GOLD * (hi - lo), lo + _GOLD * (hi - lo)
            left = f(c) < f(d)
            return jnp.where(left, lo, c), jnp.where(left, d, hi)

        lo, hi = jax.lax.fori_loop(0, steps, step, (lo, hi))
        a = 0.5 * (lo + hi)
        (E, A), rss = _vp_offset_one(xc, yc, a)
        return {"slope": -a, "A": A, "E": E, "rss": rss}

    return jax.vmap(one)(x, Y)


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
