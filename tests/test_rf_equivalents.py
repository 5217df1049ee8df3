"""Deterministic equivalents of random-feature regression against closed forms, limits, the
model's own exact losses (seed means) and the exact expected-SGD recursion."""

import math

import jax
import numpy as np
import pytest

from toyscale.theory import rf_equivalents as E

jax.config.update("jax_enable_x64", True)


def _flat(v, c=0.25):
    return np.full(v, c), np.linspace(0.5, 1.5, v)


def test_kappa_closed_form_equal_spectrum():
    # lambda_j = c for all j: v c/(c + k) = N  =>  k = c (v - N)/N.
    lam, b = _flat(200)
    for N in (10, 50, 199):
        assert float(E.kappa_df(lam, N)) == pytest.approx(0.25 * (200 - N) / N, rel=1e-12)
    assert float(E.kappa_df(lam, 200)) == 0.0 and float(E.kappa_df(lam, math.inf)) == 0.0


def test_population_loss_closed_form_and_limits():
    lam, b = _flat(200)
    # k/(c + k) = (v - N)/v: the projection keeps a fraction N/v of every mode.
    L = float(E.population_loss(lam, b, 50))
    assert L == pytest.approx(0.5 * np.sum(lam * b * b) * 150 / 200, rel=1e-12)
    lam, b = (np.asarray(x) for x in E.spectrum(1.0, 0.25, 512))
    assert float(E.population_loss(lam, b, 512)) == 0.0  # N >= v: every mode resolved
    Ls = [float(E.population_loss(lam, b, n)) for n in (16, 32, 64, 128)]
    assert all(x > y for x, y in zip(Ls, Ls[1:]))
    slope = np.polyfit(np.log([16, 32, 64, 128]), np.log(Ls), 1)[0]
    assert slope == pytest.approx(-1.5, abs=0.1)  # -min(2a+2b-1, 2a) at (1, 0.25)


def test_population_loss_is_jittable():
    lam, b = E.spectrum(1.0, 0.5, 256)
    f = jax.jit(lambda n: E.population_loss(lam, b, n))
    assert float(f(32.0)) == pytest.approx(float(E.population_loss(lam, b, 32)), rel=1e-12)


def test_ridge_loss_limits():
    lam, b = (np.asarray(x) for x in E.spectrum(1.0, 0.25, 300))
    # N = P = inf with ridge r: the population ridge bias 1/2 sum lambda b^2 (r/(lambda + r))^2.
    r = 1e-3
    L, _ = E.ridge_loss(lam, b, math.inf, math.inf, r)
    assert float(L) == pytest.approx(0.5 * np.sum(lam * b * b * (r / (lam + r)) ** 2), rel=1e-10)
    # Min-norm, P = inf: the capacity floor itself.
    L, Ls = E.ridge_loss(lam, b, 40, math.inf, 0.0)
    assert float(L) == pytest.approx(float(E.population_loss(lam, b, 40)), rel=1e-12)
    assert float(L) == pytest.approx(float(Ls), rel=1e-12)
    # Min-norm, P > N (OLS on Gaussian features): L* P/(P - N), the N/(P - N - 1) law at large P.
    L, Ls = E.ridge_loss(lam, b, 40, 400, 0.0)
    assert float(L) == pytest.approx(float(Ls) * 400 / 360, rel=1e-9)
    # Interpolation peak.
    assert math.isinf(float(E.ridge_loss(lam, b, 40, 40, 0.0)[0]))
    # Ridge in toyscale's scale is ridge / N in PLRF's.
    a = E.ridge_loss(lam, b, 64, 100, 0.32)[0]
    c = E.ridge_loss(lam, b, 64, 100, 0.005, ridge_scale="plrf")[0]
    assert float(a) == pytest.approx(float(c), rel=1e-12)


def _mc_ridge(v, alpha, beta, N, P, ridge, seeds, rng):
    lam, b = (np.asarray(x) for x in E.spectrum(alpha, beta, v))
    out = []
    for _ in range(seeds):
        F = rng.standard_normal((v, N)) / math.sqrt(N)
        X = rng.standard_normal((P, v)) * np.sqrt(lam)
        Z, y = X @ F, X @ b
        th = np.linalg.solve(Z.T @ Z / P + ridge * np.eye(N), Z.T @ y / P) if ridge > 0 else np.linalg.pinv(Z) @ y
        r = F @ th - b
        out.append(0.5 * np.sum(lam * r * r))
    return lam, b, np.mean(out), np.std(out) / math.sqrt(seeds)


@pytest.mark.parametrize("N,P,ridge", [(64, 32, 0.0), (32, 256, 1e-3), (128, 48, 1e-4)])
def test_ridge_loss_against_numpy_monte_carlo(N, P, ridge):
    """Independent numpy draws (not the model's): mean over 40 draws within 4 s.e. + 4 %."""
    lam, b, m, se = _mc_ridge(512, 1.0, 0.25, N, P, ridge, 40, np.random.default_rng(N + P))
    de = float(E.ridge_loss(lam, b, N, P, ridge, ridge_scale="plrf")[0])
    assert abs(de - m) <= 4 * se + 0.04 * m, (de, m, se)


def test_ridge_loss_against_the_model(tmp_path):
    """The model's own exact losses (toyscale's N(0, 1) features and ridge scale), seed means."""
    from toyscale.experiment import experiment_from_dict
    from toyscale.store import ResultStore
    from toyscale.sweep import run_experiment

    doc = {"model": "random_features", "seeds": 24,
           "params": {"alpha": 1.0, "beta": 0.3, "latent_dim": 256},
           "sweep": {"width": [16, 64], "samples": [32, 128, math.inf], "ridge": [0.0, 0.05]}}
    run_experiment(experiment_from_dict(doc, name="de"), tmp_path / "de", progress=False)
    df = ResultStore(tmp_path / "de").load()
    lam, b = (np.asarray(x) for x in E.spectrum(1.0, 0.3, 256))
    g = df.groupby(["width", "samples", "ridge"])["loss"].agg(["mean", "sem"])
    checked = 0
    for (N, P, r), row in g.iterrows():
        if N == P or (r == 0 and abs(N - P) < 0.3 * N):
            continue  # near the interpolation peak the seed mean has no finite expectation to hold
        de = float(E.ridge_loss(lam, b, N, P, r)[0])
        assert abs(de - row["mean"]) <= 4 * row["sem"] + 0.05 * row["mean"], (N, P, r, de, row["mean"])
        checked += 1
    assert checked >= 8


def test_sgd_quadrature_moments_exact():
    """Contour sums of the deterministic measures: sum mu theta*^2 = sum lambda^2 b^2/(lambda + k0)
    (total forcing mass) and sum mu = tr D (kernel measure / z), to quadrature precision."""
    lam, b = (np.asarray(x) for x in E.spectrum(1.0, 2.0, 1024))
    z, cF, cK, lstar = E.sgd_quadrature(lam, b, 128)
    k0 = float(E.kappa_df(lam, 128))
    assert float(np.real(np.sum(cF))) == pytest.approx(np.sum(lam**2 * b**2 / (lam + k0)), rel=1e-9)
    assert float(np.real(np.sum(cK / z))) == pytest.approx(lam.sum(), rel=1e-9)
    # tr S^2 ~ tr D^2 + (tr D)^2 / N for N(0, 1/N) features.
    assert float(np.real(np.sum(cK))) == pytest.approx(np.sum(lam**2) + lam.sum() ** 2 / 128, rel=1e-6)
    assert lstar == pytest.approx(float(E.population_loss(lam, b, 128)), rel=1e-12)


def _exact_sgd_mean(v, alpha, beta, N, steps, seeds, rng, lr_scale=0.5):
    import jax.numpy as jnp

    from toyscale.models import rf_learners as lr

    lam, b = E.spectrum(alpha, beta, v)
    gamma = lr_scale / float(jnp.sum(lam))
    out = []
    for _ in range(seeds):
        W = jnp.asarray(rng.standard_normal((v, N)) / math.sqrt(N))
        _, _, mu, _, th, lst = lr.population(W, lam, b)
        out.append(np.asarray(lr.sgd_expected_curve(mu, th, lst, 0.0, gamma, 1, tuple(steps))[0]))
    out = np.asarray(out)
    return lam, b, out.mean(0), out.std(0) / math.sqrt(seeds)


def test_sgd_curve_against_exact_recursion():
    """Phase III (alpha = 1, beta = 2): the exact per-W expected recursion, mean of 12 draws, lies
    within 4 s.e. + 3 % of the deterministic equivalent at every recorded step."""
    steps = [1, 10, 100, 1000, 5000]
    lam, b, m, se = _exact_sgd_mean(1024, 1.0, 2.0, 128, steps, 12, np.random.default_rng(3))
    de = E.sgd_curve(lam, b, 128, 0.5, 1, steps)
    assert np.all(np.abs(de - m) <= 4 * se + 0.03 * m), (de, m, se)
    # the forcing and kernel parts add up to the curve, and the kernel part is positive
    L, fo, ke, ls = E.sgd_curve(lam, b, 128, 0.5, 1, steps, split=True)
    np.testing.assert_allclose(ls + fo + ke, L, rtol=1e-12)
    assert np.all(ke > 0)


def test_gd_population_curve_against_eigen_formula():
    import jax.numpy as jnp

    from toyscale.models import rf_learners as lr

    rng = np.random.default_rng(5)
    v, N, steps = 1024, 128, [1, 10, 100, 1000]
    lam, b = E.spectrum(1.0, 0.3, v)
    gamma = 0.5 / float(jnp.sum(lam))
    out = []
    for _ in range(12):
        W = jnp.asarray(rng.standard_normal((v, N)) / math.sqrt(N))
        S, c = lr.moments(W, lam, b)
        out.append(np.asarray(lr.gd_curve(W, lam, b, S, c, None, None, 0.0, gamma, jnp.asarray(steps, float))[0]))
    out = np.asarray(out)
    m, se = out.mean(0), out.std(0) / math.sqrt(12)
    de = E.gd_population_curve(lam, b, N, 0.5, steps)
    assert np.all(np.abs(de - m) <= 4 * se + 0.03 * m), (de, m, se)


def test_plrf_phase_values_the_docs_state():
    ph, xi, eta = E.plrf_phase(0.75, 0.25)
    assert ph == "Ia" and xi == pytest.approx(0.4) and eta == pytest.approx(0.4)
    ph, xi, eta = E.plrf_phase(1.0, 0.75)
    assert ph == "II" and xi == pytest.approx(3 / 7) and eta == pytest.approx(5 / 7)
    assert E.plrf_phase(1.0, 2.0) == ("III", 0.5, 0.75)
    ph, xi, eta = E.plrf_phase(0.33, 0.45)
    assert ph == "Ib" and xi == 0.5 and eta == pytest.approx(0.28)
    assert E.plrf_phase(0.1, 0.2)[0] == "none"
    assert E.plrf_phase(0.4, 1.0) == ("IVb", 0.5, 0.4)
    assert E.plrf_phase(0.27, 1.0)[0] == "IVa"


@pytest.mark.parametrize("alpha", [0.1, 0.2])
def test_plrf_phase_ic_continuous_with_ib(alpha):
    """Across 2 beta = 1 below alpha = 1/4, Ic's balance meets Ib's (xi = 1/2, eta = alpha)."""
    lo, hi = E.plrf_phase(alpha, 0.5 - 1e-9), E.plrf_phase(alpha, 0.5 + 1e-9)
    assert lo[0] == "Ib" and hi[0] == "Ic"
    assert hi[1] == pytest.approx(lo[1], abs=1e-6) and hi[2] == pytest.approx(lo[2], abs=1e-6)


def test_plrf_phase_continuous_across_boundaries():
    e, c = 1e-9, E.ALPHA_IV
    for (a1, b1), (a2, b2) in [((0.7, 0.5 - e), (0.7, 0.5 + e)), ((0.7, 0.7 - e), (0.7, 0.7 + e)),
                               ((0.5 + e, 0.3), (0.5 - e, 0.3)), ((0.25 - e, 1.0), (0.25 + e, 1.0)),
                               ((0.5 - e, 1.2), (0.5 + e, 1.2)),
                               ((0.27, 0.5 - e), (0.27, 0.5 + e)), ((0.4, 0.5 - e), (0.4, 0.5 + e))]:
        p, q = E.plrf_phase(a1, b1), E.plrf_phase(a2, b2)
        assert p[0] != q[0]
        assert p[1] == pytest.approx(q[1], abs=1e-6) and p[2] == pytest.approx(q[2], abs=1e-6)
    # IVa | IVb: eta is continuous; xi jumps (on the line the noise term is flat in d, so every d
    # between the F_pp and F_0 balances is optimal).
    p, q2 = E.plrf_phase(c - e, 1.2), E.plrf_phase(c + e, 1.2)
    assert (p[0], q2[0]) == ("IVa", "IVb") and p[2] == pytest.approx(q2[2], abs=1e-6) and p[1] > q2[1]


def test_report_scores_the_width_curve_at_an_unshipped_setting(tmp_path):
    """The report holds a min-norm width sweep against its deterministic equivalent at every
    width (not only inside the slope's fit range), median relative error <= 10 %; the samples
    check at finite width gets its curve too."""
    import toyscale

    doc = {"model": "random_features", "seeds": 8,
           "params": {"alpha": 0.9, "beta": 0.45, "latent_dim": 1024, "ridge": 0.0},
           "sweep": {"width": [16, 24, 32, 64, 128], "samples": [48, 96, 256, math.inf]},
           "checks": [{"name": "w", "axis": "width", "where": {"samples": math.inf}, "fit_range": [16, 32]},
                      {"name": "p", "axis": "samples", "where": {"width": 16}}]}
    res = toyscale.run(doc, out=tmp_path / "de", progress=False)
    w = res.check("w")
    assert w["fit_range"] == [16, 32] and w["curve_range"] == [16, 128] and w["curve_points"] == 5
    assert w["curve_rel_error_median"] <= 0.10, w["curve_rel_error_median"]
    assert len(w["points"]["theory_curve"]) == 5
    p = res.check("p")  # P = 48, 96, 256 > N = 16: a curve at every finite P
    assert p["curve_points"] == 3
    pts = p["points"]  # every point within 4 s.e. + 5 % of the seed mean (8 seeds of N = 16 scatter)
    for c, e, t in zip(pts["center"], pts["err_low"], pts["theory_curve"]):
        assert abs(t - c) <= 4 * e + 0.05 * c, (t, c, e)


def test_sgd_limit_against_the_exact_fixed_point():
    """The deterministic constant-step limit against the model's exact per-W limit, 12 draws."""
    import jax.numpy as jnp

    from toyscale.models import rf_learners as lr

    v, N, rng = 1024, 128, np.random.default_rng(11)
    lam, b = E.spectrum(1.0, 0.75, v)
    gamma = 0.5 / float(jnp.sum(lam))
    vals = []
    for _ in range(12):
        W = jnp.asarray(rng.standard_normal((v, N)) / math.sqrt(N))
        _, _, mu, _, _, lst = lr.population(W, lam, b)
        vals.append(float(lr.sgd_limit(mu, lst, 0.1, gamma, 2)))
    m, se = np.mean(vals), np.std(vals) / math.sqrt(12)
    de = E.sgd_limit(lam, b, N, 0.5, 2, noise=0.1)
    assert abs(de - m) <= 4 * se + 0.02 * m, (de, m, se)


@pytest.mark.parametrize("alpha,beta", [(0.2, 1.0), (0.27, 1.0), (0.28, 2.0), (0.35, 1.0), (0.45, 0.7)])
def test_plrf_phase_below_alpha_half_is_the_balance_it_states(alpha, beta):
    """Ic, IVa, IVb: minimising max(F_pp, F_0, noise) over d on a fine log grid (v ~ d,
    gamma ~ d^(2a-1), tau = gamma f / d) gives the stated xi and eta to 1e-3."""
    a, b = alpha, beta
    s = 2 * a + 2 * b - 1
    logd = np.linspace(0.0, 400.0, 40001)
    best = []
    for lf in (300.0, 600.0):
        ltau = (2 * a - 2) * logd + lf
        noise = (2 * a - 1) * logd - (2 - 1 / (2 * a)) * ltau if a > 0.25 else -logd  # K_pp ~ gamma^2 d^(1-4a) below 1/4
        L = np.maximum.reduce([-(s / (2 * a)) * ltau, -2 * a * logd, noise])
        k = int(np.argmin(L))
        best.append((logd[k], L[k]))
    xi, eta = (best[1][0] - best[0][0]) / 300.0, -(best[1][1] - best[0][1]) / 300.0
    _, xi_t, eta_t = E.plrf_phase(a, b)
    assert xi == pytest.approx(xi_t, abs=1e-3) and eta == pytest.approx(eta_t, abs=1e-3)
