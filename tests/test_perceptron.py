"""The data-pruning perceptron: replica theory against independently computed values and closed
forms, the max-margin solver against SciPy's constrained solver, rows independent of padding, and
simulation against theory within 3 standard errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, optimize, stats

from toyscale.models import perceptron as pm
from toyscale.theory import perceptron as pt


def test_gardner_F_is_the_truncated_second_moment():
    # F(a) = E[(a - t)_+^2], t ~ N(0, 1), by numerical integration
    for a in (-2.0, -0.3, 0.0, 0.7, 2.5):
        ref = integrate.quad(lambda t: (a - t) ** 2 * stats.norm.pdf(t), -np.inf, a)[0]
        with jax.enable_x64(True):
            assert float(pt.gardner_F(jnp.float64(a))) == pytest.approx(ref, rel=1e-10)


def test_keep_threshold_keeps_the_fraction():
    f = np.array([0.1, 0.5, 0.9])
    g = pt.keep_threshold("hard", f)
    np.testing.assert_allclose(1 - 2 * stats.norm.sf(g), f, rtol=1e-12)
    g = pt.keep_threshold("easy", f)
    np.testing.assert_allclose(2 * stats.norm.sf(g), f, rtol=1e-12)


def test_theory_reference_points_theta0():
    # computed independently from the replica equations (issue's table), to 1e-3
    assert float(pt.theory_error(4.0, "all")) == pytest.approx(0.1137, abs=1e-3)
    assert float(pt.theory_error(4.0, "hard", 0.5, 0.0)) == pytest.approx(0.1361, abs=1e-3)
    assert float(pt.theory_error(4.0, "easy", 0.5, 0.0)) == pytest.approx(0.1173, abs=1e-3)


@pytest.mark.slow
def test_theory_reference_points_theta_positive():
    e = pt.theory_error([8.0], "hard", 0.25, 0.3)
    assert float(e[0]) == pytest.approx(0.3055, abs=1e-3)
    e = pt.theory_error([8.0], "easy", 0.25, 0.3)
    assert float(e[0]) == pytest.approx(0.1301, abs=1e-3)


@pytest.mark.slow
def test_general_branch_meets_theta0_branch_as_theta_vanishes():
    # the theta > 0 equations are singular at theta = 0; at small theta they must approach the branch
    e0 = float(pt.theory_error([4.0], "hard", 0.5, 0.0)[0])
    e1 = float(pt.theory_error([4.0], "hard", 0.5, 0.05)[0])
    assert abs(e1 - e0) < 5e-3
    # keep-easy (its narrow kept z once defeated the coarse starting grid) down to theta = 0.005
    e0 = pt.theory_error([4.0, 16.0, 64.0], "easy", [0.5, 0.125, 1 / 32], 0.0)
    e1 = pt.theory_error([4.0, 16.0, 64.0], "easy", [0.5, 0.125, 1 / 32], 0.005)
    np.testing.assert_allclose(e1, e0, atol=2e-4)


@pytest.mark.slow
def test_theta_positive_solved_across_rules_fractions_and_pools():
    # every (rule, f, alpha_tot) of a grid no experiment file ships has a saddle point at a small
    # and a moderate probe angle; a Newton result is accepted only at or above the best grid
    # point's margin re-scored with the full quadrature (a lower bound on the max margin)
    f, a = np.meshgrid([1 / 128, 1 / 32, 1 / 8, 1 / 2], [1.0, 4.0, 16.0, 64.0, 256.0])
    for rule in ("hard", "easy"):
        for theta in (0.02, 0.17):
            sp = pt.saddle_point(a.ravel(), rule, f.ravel(), theta)
            assert np.all(np.isfinite(sp["error"])), (rule, theta)
            assert np.all(sp["residual"] < 1e-9)


def test_no_pruning_law_alpha_eps_tends_to_one_half():
    a = np.array([8.0, 16.0, 32.0])
    e = pt.theory_error(a, "all")
    ae = a * e
    assert np.all(np.diff(ae) > 0) and abs(ae[-1] - 0.50) < 0.01
    slope = np.polyfit(np.log(a), np.log(e), 1)[0]
    assert abs(slope + 1) < 0.05


def test_pruning_with_f_one_is_no_pruning():
    e = pt.theory_error([4.0, 4.0], "hard", [1.0 - 1e-9, 1.0], 0.0)
    np.testing.assert_allclose(e, float(pt.theory_error(4.0, "all")), atol=2e-4)


def _svm_reference(X, y):
    """min |w|^2/2 s.t. y X w >= 1 by SciPy's SLSQP (small problems only)."""
    A = X * y[:, None]
    r = optimize.minimize(lambda w: 0.5 * w @ w, np.linalg.lstsq(A, np.ones(len(y)), rcond=None)[0],
                          jac=lambda w: w, constraints=[{"type": "ineq", "fun": lambda w: A @ w - 1, "jac": lambda w: A}],
                          method="SLSQP", options={"ftol": 1e-14, "maxiter": 2000})
    assert r.success
    return r.x


def test_max_margin_matches_scipy_qp():
    rng = np.random.default_rng(3)
    N, P = 8, 40
    X = rng.standard_normal((P, N))
    y = np.sign(X[:, 0])
    w_ref = _svm_reference(X, y)
    with jax.enable_x64(True):
        Xp = jnp.concatenate([jnp.asarray(X), jnp.zeros((24, N))])  # padded rows must not matter
        yp = jnp.concatenate([jnp.asarray(y), jnp.ones(24)])
        mask = jnp.arange(P + 24) < P
        w, kappa, gap, it = pm.max_margin(Xp, yp, mask, 1e-6, 200_000)
    assert float(gap) <= 1e-6  # the relative gap bounds |w - w*|/|w*| by about sqrt(1e-6)
    np.testing.assert_allclose(np.asarray(w), w_ref, rtol=1e-3, atol=1e-3 * np.linalg.norm(w_ref))
    assert float(kappa) == pytest.approx(1 / np.linalg.norm(w_ref), rel=1e-5)


def _evaluate(dim, alpha, keep, f, theta, seeds, p_pad=None, k_pad=None, tol=1e-4, max_iter=200):
    ex = pm.group_extra(dict(dim=dim, alpha=alpha, keep=keep, keep_fraction=f))
    st = dict(dim=dim, keep=keep, max_iter=max_iter, p_pad=p_pad or ex["p_pad"], k_pad=k_pad or ex["k_pad"])
    with jax.enable_x64(True):
        fn = jax.vmap(lambda k: pm.evaluate(st, {}, dict(alpha=alpha, keep_fraction=f, probe_angle=theta, tol=tol), k))
        return {k: np.asarray(v) for k, v in jax.jit(fn)(jax.vmap(jax.random.PRNGKey)(jnp.arange(seeds))).items()}


def test_selection_keeps_the_rule_and_the_count():
    with jax.enable_x64(True):
        x = pm.indexed_normal(jax.random.PRNGKey(0), 64, (5,), jnp.float64)
        n = 50
        for keep in ("hard", "easy"):
            X, y, m = pm.select(x, n, keep, 0.3, 0.4, 16)
            z_all = np.abs(np.cos(0.4) * np.asarray(x[:n, 0]) + np.sin(0.4) * np.asarray(x[:n, 1]))
            zk = np.abs(np.cos(0.4) * np.asarray(X[:, 0]) + np.sin(0.4) * np.asarray(X[:, 1]))[np.asarray(m)]
            assert np.asarray(m).sum() == round(0.3 * n)
            ref = np.sort(z_all)[:15] if keep == "hard" else np.sort(z_all)[::-1][:15]
            np.testing.assert_allclose(np.sort(zk), np.sort(ref), rtol=1e-12)
            np.testing.assert_array_equal(np.asarray(y)[np.asarray(m)], np.sign(np.asarray(X[:, 0])[np.asarray(m)]))


def test_row_does_not_depend_on_padding():
    a = _evaluate(20, 3.0, "hard", 0.5, 0.2, 2)
    b = _evaluate(20, 3.0, "hard", 0.5, 0.2, 2, p_pad=128, k_pad=64)
    np.testing.assert_allclose(a["error"], b["error"], rtol=1e-6)
    assert (a["status"] == 0).all() and (b["status"] == 0).all()


def test_solver_stopped_short_has_a_status():
    short = _evaluate(50, 4.0, "all", 1.0, 0.0, 2, tol=1e-8, max_iter=3)
    assert (short["status"] == pm.MODEL.status_code("max_iterations")).all()
    assert (short["gap"] > 1e-8).all() and (short["iterations"] == 3).all()
    done = _evaluate(50, 4.0, "all", 1.0, 0.0, 2, tol=1e-3)
    assert (done["status"] == 0).all() and (done["gap"] <= 1e-3).all()


@pytest.mark.parametrize("keep,f", [("all", 1.0), ("easy", 0.5)])
def test_simulation_matches_theory_within_3_standard_errors(keep, f):
    out = _evaluate(100, 4.0, keep, f, 0.0, 8)
    assert (out["status"] == 0).all()
    e = out["error"]
    se = e.std(ddof=1) / math.sqrt(len(e))
    th = float(np.atleast_1d(pt.theory_error([4.0], keep, f, 0.0))[0])
    assert abs(e.mean() - th) < 3 * se + 0.005  # + finite-N correction allowance at N = 100


def test_kappa_matches_theory_margin():
    out = _evaluate(100, 2.0, "all", 1.0, 0.0, 8)
    th = float(pt.saddle_point(2.0, "all")["kappa"])
    k = out["kappa"]
    assert abs(k.mean() - th) < 3 * k.std(ddof=1) / math.sqrt(len(k)) + 0.02


@pytest.mark.slow  # the thin-band test keeps the pruned-equals-pool mechanism in the default run
def test_theta0_pruned_error_is_the_pools_error():
    # perfect probe: above alpha_prune ~ 2 keep-hard keeps the pool's support vectors, so at fixed
    # alpha_prune eps ~ eps_all(alpha_prune / f) ~ 0.5 f / alpha_prune: no interior optimum in f
    ap, f = 8.0, np.array([0.25, 1 / 16, 1 / 64])
    e = pt.theory_error(ap / f, "hard", f, 0.0)
    np.testing.assert_allclose(e, pt.theory_error(ap / f, "all"), rtol=0.02)
    np.testing.assert_allclose(e * ap / f, 0.5, atol=0.01)
    fr = pt.frontier([8.0], 0.0, f_min=1 / 64, n_fractions=4, rules=("hard",))
    assert fr["f"][0] == pytest.approx(1 / 64) and fr["rule"][0] == "hard" and not fr["interior"][0]


def test_thin_band_limit_is_the_saddle_point_at_small_f():
    # eps alpha_prune / f -> c(alpha_prune) (closed form from F3) as the kept band thins: the
    # solver at f = 1e-6 (eps ~ 1e-7) agrees to 1e-6 relative; no turn-up at small f
    ap = np.array([2.5, 3.0, 4.0])
    c = pt.thin_band_limit(ap)
    np.testing.assert_allclose(c, [0.60717, 0.52921, 0.50299], atol=2e-5)
    e = pt.theory_error(ap / 1e-6, "hard", 1e-6, 0.0)
    np.testing.assert_allclose(e * ap / 1e-6, c, rtol=1e-6)
    assert not np.isfinite(pt.thin_band_limit(2.0))


def test_line_search_is_the_exact_minimiser():
    # phi(t) = a0 t + a1 t^2/2 + sum m (r - t q)_+^2 / 2, minimised on a fine grid by NumPy
    rng = np.random.default_rng(0)
    for trial in range(5):
        k = 40
        r, q = rng.normal(size=k), rng.normal(size=k)
        m = (rng.random(k) < 0.8).astype(float)
        a1 = abs(rng.normal()) * 0.1
        a0 = -abs(rng.normal())
        phi = lambda t: a0 * t + a1 * t * t / 2 + 0.5 * np.sum(m * np.maximum(r[None] - t[:, None] * q[None], 0) ** 2, 1)
        with jax.enable_x64(True):
            t = float(pm._line_search(jnp.asarray(r), jnp.asarray(q), jnp.asarray(m), a0, a1))
        grid = np.linspace(0, 3 * max(t, 1e-3), 200001)
        tg = grid[np.argmin(phi(grid))]
        assert t == pytest.approx(tg, abs=3 * (grid[1] - grid[0])) or phi(np.array([t]))[0] <= phi(np.array([tg]))[0] + 1e-12


@pytest.mark.slow
def test_theta_positive_large_pools_converge():
    # with the split u-quadrature the theta > 0 saddle point is found for pools alpha_tot >= 128
    # (NaN before); at fixed f the error falls like 1/alpha_tot there (a power law)
    e = pt.theory_error([128.0, 512.0], "hard", 0.25, 0.3)
    assert np.all(np.isfinite(e))
    assert e[1] / e[0] == pytest.approx(0.25, abs=0.03)


def test_volume_quadrature_resolves_a_student_close_to_the_teacher_probe_plane():
    # theta > 0 at large alpha: 1 - Q is small and F((kappa - y m)/sqrt(1 - Q)) changes on that
    # scale; the split quadrature must match SciPy's adaptive integration of the same average
    theta, gamma, alpha, kappa = 0.3, float(pt.keep_threshold("hard", 0.25)), 128.0, 0.02
    c, s = math.cos(theta), math.sin(theta)
    R = math.cos(math.pi * 0.0014)
    rho = R * c + 0.999 * math.sqrt((1 - R * R) * (1 - c * c))
    Q = (R * R + rho * rho - 2 * R * rho * c) / (s * s)
    sq = math.sqrt(1 - Q)
    A, B = (R - rho * c) / (s * s), (rho - R * c) / (s * s)

    def F(a):
        return (1 + a * a) * stats.norm.cdf(a) + a * stats.norm.pdf(a)

    def inner(z):
        w0 = -z * c / s
        def g(w, y):
            return stats.norm.pdf(w) * F((kappa - y * (A * (z * c + s * w) + B * z)) / sq)
        wp = (kappa - B * z - A * z * c) / (A * s)
        wn = (-kappa - B * z - A * z * c) / (A * s)
        up = integrate.quad(g, w0, 12, args=(1.0,), points=[wp] if w0 < wp < 12 else None, limit=400, epsabs=1e-13)[0]
        dn = integrate.quad(g, -12, w0, args=(-1.0,), points=[wn] if -12 < wn < w0 else None, limit=400, epsabs=1e-13)[0]
        return stats.norm.pdf(z) * (up + dn)

    avg = integrate.quad(inner, 0, gamma, limit=200, epsabs=1e-13)[0] / (stats.norm.cdf(gamma) - 0.5)
    ref = 1 - Q - alpha * (1 - Q) * avg
    with jax.enable_x64(True):
        got = float(pt.volume(R, rho, kappa, alpha, theta, "hard", gamma))
    assert 1 - Q < 1e-4
    assert got == pytest.approx(ref, abs=1e-9 + 1e-6 * abs(ref))
