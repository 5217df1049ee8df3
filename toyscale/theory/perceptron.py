"""Theory of the data-pruning perceptron (docs/theory.md, "The data-pruning perceptron").

Sorscher, Geirhos, Shekhar, Ganguli & Morcos 2022, *Beyond neural scaling laws: beating power law
scaling via data pruning* (NeurIPS 2022); the replica method for the max-margin perceptron from
Gardner 1988 and Engel & van den Broeck 2001 (*Statistical Mechanics of Learning*, ch. 3 and 6).

Setting: ``x ~ N(0, I_N)``, labels ``y = sign(T.x)``; a probe ``P`` at angle ``theta`` to the
teacher scores each example by ``z = P.x/sqrt(N)``; keep-hard keeps ``|z| <= gamma``
(``f = 1 - 2H(gamma)``), keep-easy keeps ``|z| >= gamma`` (``f = 2H(gamma)``), ``H`` the Gaussian
tail; the student is the max-margin perceptron on the ``alpha = f alpha_tot`` N kept examples.

Replica-symmetric result at the max margin (Gardner volume at q -> 1). With the teacher field
``u``, the probe field ``z`` (correlation ``cos theta``) and the student field ``lambda``
(overlaps ``R`` with the teacher, ``rho`` with the probe), the student's component outside the
span of (T, P) has squared norm ``1 - Q``, ``Q = (R^2 + rho^2 - 2 R rho cos theta)/sin^2 theta``,
and is a Gardner perceptron with per-example thresholds; its volume vanishes when::

    G(R, rho, kappa) = 1 - Q - alpha < (1 - Q) F((kappa - y m)/sqrt(1 - Q)) >_{u, z | kept} = 0,
    m = E[lambda | u, z] = ((R - rho cos theta) u + (rho - R cos theta) z) / sin^2 theta,
    F(a) = E_t[(a - t)_+^2] = (1 + a^2) Phi(a) + a phi(a),

and the max margin is the largest ``kappa`` for which some ``(R, rho)`` has ``G >= 0``: the
saddle point is ``G = 0, dG/dR = 0, dG/drho = 0`` (3 equations, 3 unknowns). At ``theta = 0``
the probe is the teacher (``rho = R``, ``u = z``) and the equations are ``G = 0, dG/dR = 0`` with
``G = 1 - R^2 - alpha (1 - R^2) < F((kappa - R|z|)/sqrt(1 - R^2)) >_z``: a separate branch
(``sin theta = 0`` is singular in the general form). The error is ``eps = arccos(R)/pi``.

Numerics: Gauss-Legendre quadrature in float64 (z over the kept region on ``z >= 0`` by the
``z -> -z`` symmetry, cut where the integrand turns from growth to decay; ``u | z`` split at
``u = 0`` where the label flips and again around ``y m = kappa`` on the scale ``sqrt(1 - Q)``),
Newton's method on the saddle-point equations with derivatives by automatic differentiation, a
damped step, a grid search for the starting point, and the solution of largest ``kappa`` kept
(the max margin is a global maximum). The theta = 0 branch works in ``(log phi, kappa/sin phi)``
with ``R = cos(phi)``, accurate down to ``eps ~ 1e-7``; :func:`thin_band_limit` is its f -> 0
limit in closed form. :func:`frontier` is the Pareto envelope over ``f >= f_min``.
Everything is jittable and vmappable over settings.
"""

from __future__ import annotations

import functools
import math
from typing import Mapping

import numpy as np

from toyscale.numerics import bisect, with_x64
from toyscale.theory.base import Prediction, Slice, Theory

RULES = ("all", "hard", "easy")
#: Gauss-Legendre nodes over the kept region in z, over each half-line of u | z.
NZ, NW = 96, 40
#: Integration cut-off in standard deviations.
ZMAX = 9.0
#: Newton iterations from each starting point.
NEWTON_STEPS = 40
#: Fractions of the Newton step tried at each iteration (damping).
_DAMP = (1.0, 0.5, 0.2, 0.05)

_GLZ = np.polynomial.legendre.leggauss(NZ)
_GLW = np.polynomial.legendre.leggauss(NW)
_GLZ2 = np.polynomial.legendre.leggauss(NZ // 2)
_GLZ3 = np.polynomial.legendre.leggauss(NZ // 3)
#: Width, in units of s/R, of the z-interval above z = kappa/R where the theta = 0 integrand
#: decays (F(-ZBEND) ~ 1e-25).
ZBEND = 10.0
#: Nodes in each of the four pieces of a half-line of w (theta > 0), fine and coarse.
_GLW4, _GLWC4 = np.polynomial.legendre.leggauss(NW // 2), np.polynomial.legendre.leggauss(6)
#: Coarse nodes for the grid search that finds Newton's starting point (theta > 0).
_GLZC, _GLWC = np.polynomial.legendre.leggauss(24), np.polynomial.legendre.leggauss(12)


def keep_threshold(rule: str, f):
    """``gamma`` with kept fraction ``f``: keep-hard ``f = 1 - 2H(gamma)`` so
    ``gamma = Phi^-1((1 + f)/2)``; keep-easy ``f = 2H(gamma)`` so ``gamma = Phi^-1(1 - f/2)``;
    ``all``: no threshold (returned as 0)."""
    from scipy.special import ndtri

    f = np.asarray(f, float)
    if rule == "hard":  # f = 1 keeps everything: gamma = inf, capped at the integration cut-off
        return np.minimum(ndtri((1 + f) / 2), ZMAX)
    if rule == "easy":
        return ndtri(1 - f / 2)
    return np.zeros_like(f)


def _gl(a, b, nodes):
    """Gauss-Legendre nodes/weights on ``[a, b]`` (jax arrays, ``a``/``b`` traced)."""
    import jax.numpy as jnp

    x, w = (jnp.asarray(v) for v in nodes)
    return a + (b - a) * (x + 1) / 2, (b - a) / 2 * w


def _phi(x):
    import jax.numpy as jnp

    return jnp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def gardner_F(a):
    """``F(a) = E_t[(a - t)_+^2] = (1 + a^2) Phi(a) + a phi(a)`` for ``t ~ N(0, 1)`` (Gardner 1988)."""
    from jax.scipy.special import ndtr

    return (1 + a * a) * ndtr(a) + a * _phi(a)


def _z_nodes(rule: str, gamma, split=None, coarse=False, width=None):
    """Nodes and weights of the normalised average over the kept z >= 0 (weights sum to 1).

    With ``split`` the region is cut there (half the nodes each side), so that the bend of the
    integrand at ``z = split`` costs no accuracy; with ``split`` and ``width`` it is cut at
    ``split`` and ``split + width`` (a third of the nodes in each piece): the integrand then
    changes on the scale ``width`` just above ``split`` (the theta = 0 branch at small error)."""
    import jax.numpy as jnp

    lo, hi = {"hard": (0.0, gamma), "easy": (gamma, gamma + ZMAX)}.get(rule, (0.0, ZMAX))
    if split is None:
        z, w = _gl(lo, hi, _GLZC if coarse else _GLZ)
    elif width is None:
        c = jnp.clip(split, lo, hi)
        z1, w1 = _gl(lo, c, _GLZ2)
        z2, w2 = _gl(c, hi, _GLZ2)
        z, w = jnp.concatenate([z1, z2]), jnp.concatenate([w1, w2])
    else:
        c1 = jnp.clip(split, lo, hi)
        c2 = jnp.clip(split + width, lo, hi)
        parts = [_gl(a, b, _GLZ3) for a, b in ((lo, c1), (c1, c2), (c2, hi))]
        z, w = (jnp.concatenate([p[i] for p in parts]) for i in (0, 1))
    w = w * _phi(z)
    return z, w / jnp.sum(w)


def _g_theta0(phi, kappa, alpha, rule: str, gamma):
    """``G / (1 - R^2) = 1 - alpha <F((kappa - R z)/sqrt(1 - R^2))>_z`` at ``theta = 0`` with
    ``R = cos(phi)``, ``sqrt(1 - R^2) = sin(phi)`` (no cancellation at small ``phi``): the same
    roots as ``G`` and, on ``G = 0``, the same stationary points in ``R`` at fixed ``kappa``."""
    import jax.numpy as jnp

    c, s = jnp.cos(phi), jnp.sin(phi)
    # F((kappa - c z)/s) turns from growth to decay at z = kappa/c, over a few s/c above it
    z, w = _z_nodes(rule, gamma, split=kappa / c, width=ZBEND * s / c)
    return 1 - alpha * jnp.sum(w * gardner_F((kappa - c * z) / s))


def volume(R, rho, kappa, alpha, theta, rule: str, gamma, coarse=False):
    """``G(R, rho, kappa)`` of the module docstring for ``theta > 0`` (quadrature in z and u | z).

    With ``u = z cos(theta) + sin(theta) w`` the u-average is over ``w ~ N(0, 1)``, split where
    the label flips (``u = 0``) and, on each side, where the integrand ``F((kappa - y m)/sqrt(1 - Q))``
    turns from growth to decay (``y m = kappa``) and ``ZBEND sqrt(1 - Q)/|dm/dw|`` either side
    of it: at large ``alpha`` the student lies almost in span(T, P), ``1 - Q`` is small, and the
    integrand changes on that scale (fixed nodes miss it and the saddle point is lost)."""
    import jax
    import jax.numpy as jnp

    c, s = jnp.cos(theta), jnp.sin(theta)
    z, wz = _z_nodes(rule, gamma, coarse=coarse)
    gw = _GLWC4 if coarse else _GLW4
    Q = (R * R + rho * rho - 2 * R * rho * c) / (s * s)
    sq = jnp.sqrt(1 - Q)
    A, B = (R - rho * c) / (s * s), (rho - R * c) / (s * s)  # m = A u + B z
    slope = A * s  # dm/dw
    safe = jnp.where(jnp.abs(slope) > 1e-300, slope, 1e-300)
    width = ZBEND * sq / jnp.abs(safe)

    def pieces(lo, hi, wb):
        cuts = [lo] + [jnp.clip(wb + d, lo, hi) for d in (-width, 0.0, width)] + [hi]
        parts = [_gl(cuts[i], cuts[i + 1], gw) for i in range(4)]
        return (jnp.concatenate([q[i] for q in parts]) for i in (0, 1))

    def at_z(zi):
        w0 = jnp.clip(-zi * c / s, -ZMAX, ZMAX)  # u = z c + s w changes sign at w0
        # y m = kappa at w = (y kappa - B z - A z c)/(A s)
        wp, wwp = pieces(w0, ZMAX, jnp.clip((kappa - B * zi - A * zi * c) / safe, -2 * ZMAX, 2 * ZMAX))
        wn, wwn = pieces(-ZMAX, w0, jnp.clip((-kappa - B * zi - A * zi * c) / safe, -2 * ZMAX, 2 * ZMAX))
        w, ww = jnp.concatenate([wp, wn]), jnp.concatenate([wwp, wwn])
        y = jnp.concatenate([jnp.ones(wp.shape[0]), -jnp.ones(wn.shape[0])])
        m = A * (zi * c + s * w) + B * zi
        return jnp.sum(ww * _phi(w) * gardner_F((kappa - y * m) / sq))

    return 1 - Q - alpha * (1 - Q) * jnp.sum(wz * jax.vmap(at_z)(z))


def _newton(res, x0, steps=NEWTON_STEPS):
    """Damped Newton on ``res(x) = 0`` from ``x0``: each step tries the fractions
    :data:`_DAMP` of the Newton step and keeps the one of smallest residual norm (or stays);
    returns ``(x, |res(x)|)``."""
    import jax
    import jax.numpy as jnp

    jac = jax.jacfwd(lambda x: (res(x), res(x)), has_aux=True)

    def norm(x):
        r = res(x)
        return jnp.where(jnp.all(jnp.isfinite(r)), jnp.sqrt(jnp.sum(r * r)), jnp.inf)

    def step(x, _):
        J, r = jac(x)
        dx = jnp.linalg.solve(J, -r)
        dx = jnp.where(jnp.all(jnp.isfinite(dx)), dx, 0.0)
        cand = jnp.concatenate([x[None], x[None] + jnp.asarray(_DAMP)[:, None] * dx[None]])
        n = jax.vmap(norm)(cand)
        return cand[jnp.argmin(n)], None

    x, _ = jax.lax.scan(step, x0, None, length=steps)
    return x, norm(x)


def _kappa_root(G, lo=-12.0, hi=12.0, iters=60):
    """The root in kappa of ``G(kappa)``, decreasing in kappa (F is increasing), by bisection."""
    return bisect(G, lo, hi, iters, increasing=False)


#: Grid of student-teacher angles phi = pi eps scanned for Newton's starting point (theta = 0),
#: and the range of kappa/sin(phi) searched by bisection.
_PHI_GRID = np.geomspace(1e-13, math.pi / 2, 224)
_KMAX = 60.0
_EPS_GRID_C = np.geomspace(1e-4, 0.5, 28)
_B_GRID_C = np.linspace(-0.95, 0.95, 13)
#: theta > 0: grid points re-scored with the full quadrature, and Newton starts among them.
GRID_REFINE, NEWTON_STARTS = 12, 3


@functools.lru_cache(maxsize=None)
def _solver(rule: str, zero_theta: bool):
    """A jitted ``solve(alpha, theta, gamma) -> (R, rho, kappa, residual)`` for one rule/branch.

    The max margin is a global maximum over (R, rho) of ``kappa(R, rho)``, the root of
    ``G = 0`` (bisection). A grid scan finds its neighbourhood (theta = 0: 224 angles with the
    full quadrature; theta > 0: 28 x 13 values of (R, rho) with a coarse quadrature, whose best
    :data:`GRID_REFINE` are re-scored with the full one); Newton on the saddle-point equations
    then converges from there (theta > 0: from the best :data:`NEWTON_STARTS` and from the
    coarse scan's best, keeping the largest converged kappa). ``kappa(R, rho)`` at a grid point
    is a lower bound on the max margin, so a Newton result below the grid's best (a different,
    wrong root) is reported as not converged.
    """
    import jax
    import jax.numpy as jnp

    def squash(v):  # unconstrained -> R in (-1, 1)
        return jnp.tanh(v)

    if zero_theta:
        def solve(alpha, theta, gamma):
            # unknowns (log phi, kappa/sin phi): R = cos(phi) and the margin in units of the
            # student's spread, both O(1) however small the error (eps = phi/pi)
            def kap(lp, k):
                return jnp.sin(jnp.exp(lp)) * k

            def res(v):
                g = lambda lp, kappa: _g_theta0(jnp.exp(lp), kappa, alpha, rule, gamma)
                kappa = kap(v[0], v[1])
                return jnp.stack([g(v[0], kappa), jax.grad(g, 0)(v[0], kappa)])

            lpg = jnp.log(jnp.asarray(_PHI_GRID))

            def root(lp):  # kappa/sin(phi) on G = 0 (g decreasing in kappa)
                return _kappa_root(lambda k: _g_theta0(jnp.exp(lp), kap(lp, k), alpha, rule, gamma),
                                   -_KMAX, _KMAX, 80)

            kg = jax.vmap(root)(lpg)
            kappas = jnp.sin(jnp.asarray(_PHI_GRID)) * kg
            j = jnp.argmax(kappas)
            x, n = _newton(res, jnp.stack([lpg[j], kg[j]]))
            phi, k = jnp.exp(x[0]), kap(x[0], x[1])
            bad = k < kappas[j] - 1e-6 * jnp.abs(kappas[j])
            return jnp.cos(phi), jnp.cos(phi), k, jnp.where(bad, jnp.inf, n), phi
    else:
        def solve(alpha, theta, gamma):
            c = jnp.cos(theta)

            def unpack(v):  # R, and rho in the interval that keeps Q < 1
                R = squash(v[0])
                half = jnp.sqrt((1 - R * R) * (1 - c * c))
                return R, R * c + half * jnp.tanh(v[1]), v[2]

            def res(v):
                G = lambda R, p, k: volume(R, p, k, alpha, theta, rule, gamma)
                R, p, k = unpack(v)
                g = jax.grad(G, (0, 1))(R, p, k)
                return jnp.stack([G(R, p, k), g[0], g[1]])

            v0 = jnp.arctanh(jnp.cos(jnp.pi * jnp.asarray(_EPS_GRID_C)))
            v1 = jnp.arctanh(jnp.asarray(_B_GRID_C))
            V0, V1 = (a.ravel() for a in jnp.meshgrid(v0, v1, indexing="ij"))

            def kap(a, b, coarse):
                R, p, _ = unpack(jnp.stack([a, b, 0.0]))
                return _kappa_root(lambda k: volume(R, p, k, alpha, theta, rule, gamma, coarse=coarse))

            # the coarse scan ranks the grid (its kappa can be off by O(1) where the kept z or
            # the u | z integrand is narrow, keep-easy above all); the best few are re-scored with
            # the full quadrature, and Newton starts from the best NEWTON_STARTS of those
            kc, top = jax.lax.top_k(jax.vmap(lambda a, b: kap(a, b, True))(V0, V1), GRID_REFINE)
            kf = jax.vmap(lambda a, b: kap(a, b, False))(V0[top], V1[top])
            order = jnp.argsort(-jnp.where(jnp.isfinite(kf), kf, -jnp.inf))[:NEWTON_STARTS]
            starts = jnp.stack([V0[top][order], V1[top][order], kf[order]], axis=1)
            # and the coarse scan's best with its own kappa (Newton's path depends on the start)
            starts = jnp.concatenate([starts, jnp.stack([V0[top[0]], V1[top[0]], kc[0]])[None]])
            xs, ns = jax.vmap(lambda x0: _newton(res, x0))(starts)
            ks = jax.vmap(unpack)(xs)[2]
            # kappa(R, rho) at any grid point is a lower bound on the max margin: a Newton
            # result below the best re-scored grid value is another root, not the maximum
            ok = jnp.isfinite(ns) & (ns < 1e-9) & (ks >= kf[order[0]] - 1e-6 * jnp.abs(kf[order[0]]))
            i = jnp.argmax(jnp.where(ok, ks, -jnp.inf))
            R, p, k = unpack(xs[i])
            return R, p, k, jnp.where(ok[i], ns[i], jnp.inf), jnp.arccos(R)

    return jax.jit(jax.vmap(solve))


@with_x64
def saddle_point(alpha_tot, keep: str = "all", keep_fraction=1.0, probe_angle=0.0):
    """Solve the replica-symmetric saddle point for each setting (arrays broadcast).

    Returns a dict of float64 arrays ``R`` (student-teacher overlap), ``rho`` (student-probe
    overlap), ``kappa`` (max margin), ``error`` (``arccos(R)/pi``), ``residual`` (norm of the
    saddle-point equations: above ``1e-9`` means Newton did not converge; then ``error`` is NaN).
    ``keep = "all"`` ignores ``keep_fraction`` and ``probe_angle``.
    """
    import jax.numpy as jnp

    if keep not in RULES:
        raise ValueError(f"keep must be one of {RULES}, got {keep!r}")
    a, f, th = np.broadcast_arrays(np.asarray(alpha_tot, float), np.asarray(keep_fraction, float),
                                   np.asarray(probe_angle, float))
    shape = a.shape
    a, f, th = a.ravel(), f.ravel(), th.ravel()
    if keep == "all":
        f, th = np.ones_like(a), np.zeros_like(a)
    gamma = keep_threshold(keep, f)
    alpha = a * f
    R, rho, kappa, resid, phi = (np.empty_like(a) for _ in range(5))
    for zero in (True, False):
        sel = (th == 0) if zero else (th != 0)
        if sel.any():
            n = int(sel.sum())
            pad = 1 << max(0, (n - 1).bit_length())  # one compiled program per power of two
            args = [np.concatenate([v[sel], np.repeat(v[sel][:1], pad - n)]) for v in (alpha, th, gamma)]
            out = _solver(keep, zero)(*(jnp.asarray(v) for v in args))
            for dst, src in zip((R, rho, kappa, resid, phi), out):
                dst[sel] = np.asarray(src)[:n]
    err = np.where(resid < 1e-9, phi / np.pi, np.nan)
    return {k: v.reshape(shape) for k, v in
            dict(R=R, rho=rho, kappa=kappa, error=err, residual=resid).items()}


def theory_error(alpha_tot, keep="all", keep_fraction=1.0, probe_angle=0.0):
    """``eps = arccos(R)/pi`` of the saddle point (float64 array; NaN where unsolved)."""
    return saddle_point(alpha_tot, keep, keep_fraction, probe_angle)["error"]


def asymptotic_alpha_eps(alpha_tot=1e4) -> float:
    """``alpha eps`` of the unpruned max-margin perceptron at large ``alpha`` (tends to ~0.50;
    Engel & van den Broeck 2001, ch. 3)."""
    return float(alpha_tot * theory_error(alpha_tot, "all"))


def pareto_frontier(alpha_prune, probe_angle=0.0, fractions=None, rules=("hard", "easy")):
    """The lowest theory error over the offered kept fractions and rules at each ``alpha_prune``.

    Sorscher et al.'s frontier is drawn against the size of the pruned set: at a budget of
    ``alpha_prune N`` kept examples, a pool ``alpha_tot = alpha_prune / f`` is pruned to the
    fraction ``f``; the frontier is the lower envelope over ``f`` (and the rules) of
    ``eps(alpha_tot = alpha_prune / f, f)``. Returns ``(eps_best, f_best, rule_best)`` arrays;
    ``fractions`` defaults to 17 values log-spaced in ``[1/256, 1]`` (``f = 1``: no pruning).
    :func:`frontier` is the same envelope over a dense grid ``f >= f_min`` with its edge flagged.
    """
    a = np.atleast_1d(np.asarray(alpha_prune, float))
    fr = np.geomspace(1 / 256, 1.0, 17) if fractions is None else np.asarray(fractions, float)
    A, F = np.meshgrid(a, fr, indexing="ij")
    best = np.full(a.shape, np.inf)
    fbest = np.ones(a.shape)
    rbest = np.array(["all"] * a.size, dtype=object)
    for rule in rules:
        e = saddle_point(A / F, rule, F, probe_angle)["error"]
        e = np.where(np.isfinite(e), e, np.inf)
        j = np.argmin(e, axis=1)
        ej = e[np.arange(a.size), j]
        better = ej < best
        best = np.where(better, ej, best)
        fbest = np.where(better, fr[j], fbest)
        rbest = np.where(better, rule, rbest)
    return best, fbest, rbest


def frontier(alpha_prune, probe_angle=0.0, f_min=1e-4, n_fractions=41, rules=("hard", "easy")):
    """The Pareto frontier over pools of bounded size: ``min`` over ``f in [f_min, 1]`` (log grid
    of ``n_fractions`` values) and the rules of ``eps(alpha_tot = alpha_prune / f, f)``.

    The pool is ``alpha_tot = alpha_prune / f <= alpha_prune / f_min``. Returns a dict of arrays
    ``error`` (the envelope), ``f`` (the best fraction), ``rule`` and ``interior`` (the best f is
    strictly inside ``(f_min, 1)``: an interior optimum, not the grid's edge).

    At ``theta = 0`` the replica equations have no interior optimum above ``alpha_prune ~ 2``:
    keep-hard's error at fixed ``alpha_prune`` falls in proportion to ``f`` all the way to
    ``f -> 0`` (:func:`thin_band_limit`), so the best ``f`` is ``f_min`` and the envelope is
    ``c(alpha_prune) f_min / alpha_prune``, a power law in ``alpha_prune`` (docs/theory.md,
    "The data-pruning perceptron"). At ``theta > 0`` the optimum is interior.
    """
    fr = np.geomspace(f_min, 1.0, int(n_fractions))
    e, f, r = pareto_frontier(alpha_prune, probe_angle, fr, rules)
    interior = (f > fr[0] * (1 + 1e-9)) & (f < 1.0)
    return {"error": e, "f": f, "rule": r, "interior": interior}


def thin_band_limit(alpha_prune):
    """``c = lim_{f -> 0} alpha_prune eps / f`` for keep-hard with a perfect probe (``theta = 0``).

    As ``f -> 0`` the kept band ``|z| <= gamma``, ``gamma ~ f sqrt(pi/2)``, is thin and its
    density flat; with ``R ~ 1`` and ``s = sqrt(1 - R^2)`` the equations depend on ``f`` only
    through ``b = gamma / s`` (``a = R|z|/s`` uniform on ``[0, b]``)::

        1 = alpha_prune (F3(k) - F3(k - b)) / (3 b),
        F3(x) = E_t[(x - t)_+^3] = (x^3 + 3x) Phi(x) + (x^2 + 2) phi(x),

    for the margin ``k = kappa/s``, and the max margin ``kappa = gamma k(b)/b`` is largest at the
    ``b*`` maximising ``k(b)/b``; then ``eps = s/pi = f / (sqrt(2 pi) b*)``, so
    ``c = alpha_prune / (sqrt(2 pi) b*)``: ``eps ~ f`` at fixed ``alpha_prune`` with no interior
    optimum (finite for ``alpha_prune > 2``; ``c -> 0.5005``, the unpruned max-margin
    ``alpha eps``, as ``alpha_prune`` grows). Own derivation from the replica equations of
    docs/theory.md (Sorscher et al. 2022; Gardner 1988). NumPy/SciPy, float64.
    """
    from scipy import optimize, stats

    def F3(x):
        return (x ** 3 + 3 * x) * stats.norm.cdf(x) + (x * x + 2) * stats.norm.pdf(x)

    def k_of(b, al):
        return optimize.brentq(lambda k: al * (F3(k) - F3(k - b)) / (3 * b) - 1, -60.0, 60.0, xtol=1e-14)

    out = []
    for al in np.atleast_1d(np.asarray(alpha_prune, float)).ravel():
        if not al > 2:
            out.append(np.inf)
            continue
        r = optimize.minimize_scalar(lambda lb: -k_of(math.exp(lb), al) / math.exp(lb), bounds=(-12.0, 8.0),
                                     method="bounded", options={"xatol": 1e-10})
        out.append(al / (math.sqrt(2 * math.pi) * math.exp(r.x)))
    return np.asarray(out).reshape(np.shape(alpha_prune))


def _slice_args(params: Mapping):
    keep = params.get("keep", "all")
    return keep, float(params.get("keep_fraction", 1.0)), float(params.get("probe_angle", 0.0))


def predict(axis: str, s: Slice) -> Prediction:
    """Prediction along ``alpha`` (or the other continuous parameters) for the metric ``error``.

    * ``keep = "all"`` along ``alpha``: the max-margin law ``eps ~ 0.50/alpha`` (slope -1, valid
      from ``alpha >= 4`` where the saddle point is within a few percent of it), with the
      replica curve;
    * a pruned slice along ``alpha``: no single exponent (exponential along the theta = 0
      frontier, a power law again for theta > 0 at fixed f); the replica curve is scored;
    * along ``keep_fraction`` or ``probe_angle``: the replica curve, no exponent.
    """
    params = s.params
    metric = s.metric or "error"
    keep, f, th = _slice_args(params)
    if metric != "error":
        return Prediction(regime=f"no prediction for {metric}", slope=None, metric=metric,
                          note="the replica theory here predicts the error eps = arccos(R)/pi")
    if axis not in ("alpha", "keep_fraction", "probe_angle"):
        return Prediction(regime=f"no prediction along {axis}", slope=None, metric="error",
                          note="theory depends on alpha, keep, keep_fraction and probe_angle only")
    alpha = float(params.get("alpha", 4.0))

    def curve(x):
        x = np.asarray(x, float)
        if axis == "alpha":
            return theory_error(x, keep, f, th)
        if axis == "keep_fraction":
            return theory_error(alpha, keep, x, th)
        return theory_error(alpha, keep, f, x)

    note = "replica-symmetric saddle point of the max-margin perceptron (Sorscher et al. 2022; Gardner 1988)"
    if axis == "alpha" and keep == "all":
        return Prediction(regime="max-margin perceptron, no pruning", slope=-1.0, metric="error",
                          valid=(4.0, float("inf")), curve=curve, note=note + "; eps -> 0.50/alpha")
    return Prediction(regime=f"keep-{keep}, f = {f:g}, theta = {th:g}", slope=None, metric="error", curve=curve,
                      note=note)


#: The perceptron's theory: replica curves along alpha, keep_fraction and probe_angle.
THEORY = Theory(predict=predict)
