"""Random-feature ridge regression: the nested fast path against direct numpy solves, and
theory against closed forms and simulation."""

from toyscale.theory.base import Slice
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale.models.base import indexed_normal
from toyscale.models.random_features import evaluate
from toyscale.theory import random_features as th

INF = math.inf


def reference_loss(key, v, N, P, alpha, beta, ridge, noise, Nmax, Pmax, teacher="power"):
    """Direct numpy solve of one configuration, from the same draws as the model."""
    kW, kX, kb, kn = jax.random.split(key, 4)
    j = np.arange(1, v + 1.0)
    lam = j ** (-2 * alpha)
    b = j ** (-beta) if teacher == "power" else np.asarray(jax.random.normal(kb, (v,)))
    X = np.asarray(indexed_normal(kX, Pmax, (v,))) * np.sqrt(lam)  # sample i from fold_in(kX, i)
    y = X @ b + noise * np.asarray(indexed_normal(kn, Pmax))
    W = np.eye(v) if math.isinf(N) else np.asarray(indexed_normal(kW, Nmax, (v,))).T[:, :N]  # column j: fold_in(kW, j)
    if math.isinf(P):
        S = W.T @ (lam[:, None] * W)
        if ridge > 0:
            theta = np.linalg.solve(S + ridge * np.eye(W.shape[1]), W.T @ (lam * b))
        else:  # min-norm population learner (S is singular when N > v)
            theta = np.linalg.lstsq(S, W.T @ (lam * b), rcond=1e-13)[0]
    else:
        F = X[:P] @ W
        if ridge > 0:
            theta = np.linalg.solve(F.T @ F + P * ridge * np.eye(W.shape[1]), F.T @ y[:P])
        else:
            theta = np.linalg.lstsq(F, y[:P], rcond=None)[0]  # min-norm least squares
    e = W @ theta - b
    return 0.5 * np.sum(lam * e * e)


@pytest.mark.parametrize("ridge", [0.0, 1e-3])
@pytest.mark.parametrize("teacher", ["power", "isotropic"])
def test_nested_fast_path_matches_direct_solves(ridge, teacher):
    v, Ns, Ps = 160, (4, 8, 20, 48), (6, 8, 30, 100, INF)
    dyn = dict(alpha=0.9, beta=0.3, ridge=ridge, noise=0.05)
    static = dict(latent_dim=v, teacher=teacher, minnorm=ridge == 0, width_inf=False)
    key = jax.random.key(7)
    out = evaluate(static, dict(width=Ns, samples=Ps), {k: jnp.asarray(x) for k, x in dyn.items()}, key)
    ref = np.array([[reference_loss(key, v, N, P, Nmax=48, Pmax=100, teacher=teacher, **dyn) for P in Ps] for N in Ns])
    # float64 solves; the N = P min-norm point is ill-conditioned (the double-descent peak)
    np.testing.assert_allclose(np.asarray(out["loss"]), ref, rtol=1e-7)
    np.testing.assert_allclose(np.asarray(out["approx"]), np.repeat(ref[:, -1:], len(Ps), 1), rtol=1e-9)
    np.testing.assert_allclose(np.asarray(out["excess"]), ref - ref[:, -1:], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("ridge", [0.0, 1e-3])
def test_more_features_than_latent_dimensions(ridge):
    # N > v is a legitimate overparameterised setting: W has rank v, the min-norm learner is
    # exact in latent space (population: fits b*; P >= v samples: latent least squares).
    v, Ns, Ps = 24, (8, 16, 40, 64), (6, 20, 24, 50, INF)
    dyn = dict(alpha=0.8, beta=0.3, ridge=ridge, noise=0.05)
    static = dict(latent_dim=v, teacher="power", minnorm=ridge == 0, width_inf=False)
    key = jax.random.key(11)
    out = evaluate(static, dict(width=Ns, samples=Ps), {k: jnp.asarray(x) for k, x in dyn.items()}, key)
    ref = np.array([[reference_loss(key, v, N, P, Nmax=64, Pmax=50, **dyn) for P in Ps] for N in Ns])
    loss = np.asarray(out["loss"])
    assert np.isfinite(loss).all() and np.isfinite(np.asarray(out["approx"])).all()
    # min-norm at N = P = v-ish points is ill-conditioned; elsewhere float64 agreement
    np.testing.assert_allclose(loss, ref, rtol=1e-6, atol=1e-20)
    if ridge == 0:
        wide = np.array(Ns) > v
        assert np.all(np.asarray(out["approx"])[wide] < 1e-20)  # the population learner fits b* exactly
        # P >= v: the same latent least-squares loss for every N > v
        for j, P in enumerate(Ps):
            if math.isfinite(P) and P >= v:
                assert np.ptp(loss[wide, j]) <= 1e-12 * loss[wide, j].max()


@pytest.mark.parametrize("ridge", [0.0, 1e-3])
def test_infinite_width_matches_regression_on_latent(ridge):
    v, Ps = 64, (4, 16, 40, INF)
    dyn = dict(alpha=1.0, beta=0.25, ridge=ridge, noise=0.0)
    static = dict(latent_dim=v, teacher="power", minnorm=ridge == 0, width_inf=True)
    key = jax.random.key(3)
    out = evaluate(static, dict(width=(INF,), samples=Ps), {k: jnp.asarray(x) for k, x in dyn.items()}, key)
    ref = [reference_loss(key, v, INF, P, Nmax=v, Pmax=40, **dyn) for P in Ps]
    np.testing.assert_allclose(np.asarray(out["loss"])[0], ref, rtol=1e-8, atol=1e-14)


def test_vmapped_equals_looped_cells():
    v, nested = 96, dict(width=(8, 16, 32), samples=(8, 24, INF))
    static = dict(latent_dim=v, teacher="power", minnorm=True, width_inf=False)
    dyn = {"alpha": jnp.array([0.8, 1.2]), "beta": jnp.array([0.1, 0.4]), "ridge": jnp.zeros(2), "noise": jnp.array([0.0, 0.1])}
    keys = jax.vmap(jax.random.key)(jnp.array([1, 2], dtype=jnp.uint32))
    batched = jax.jit(jax.vmap(lambda d, k: evaluate(static, nested, d, k)))(dyn, keys)
    for i in range(2):
        one = evaluate(static, nested, {k: x[i] for k, x in dyn.items()}, keys[i])
        np.testing.assert_allclose(np.asarray(batched["loss"][i]), np.asarray(one["loss"]), rtol=1e-10)


def test_exponents_hand_cases():
    assert th.exponents(1.0, 0.25) == (2.5, 2.0)
    assert th.exponents(1.0, 0.25, "isotropic") == (2.0, 2.0)
    assert th.width_exponent(1.0, 0.25) == -1.5          # a - 1 < b
    assert th.width_exponent(1.0, 1.0) == -2.0           # capped at b = 2 alpha
    assert th.samples_exponent(1.0, 2.0) == -4.0         # capped at 2b (docs/theory.md §1: prototype -4.04)
    assert th.samples_exponent(1.0, 0.25, "isotropic") == -1.0  # MRS: alpha_MRS = 2 alpha - 1 = 1


def test_theory_regimes_from_slice():
    base = dict(alpha=1.0, beta=0.25, teacher="power", latent_dim=4096, ridge=0.0, noise=0.0)
    p = th.predict("width", Slice({**base, "samples": INF}, "width", (16, 512)))
    assert p.slope == -1.5 and "model bottleneck" in p.regime and p.valid[1] == 1024
    p = th.predict("samples", Slice({**base, "width": INF}, "samples", (16, 512)))
    assert p.slope == -1.5 and "data bottleneck" in p.regime
    p = th.predict("samples", Slice({**base, "width": 8}, "samples", (64, 8192)))
    assert p.slope == -1.0 and p.metric == "excess"
    p = th.predict("width", Slice({**base, "samples": 64}, "width", (8, 512)))
    assert p.slope is None  # double-descent crossover: no exponent


def test_ols_finite_size_formula_matches_simulation():
    """E L(P) = L_inf (1 + N/(P - N - 1)) for Gaussian features (Bahri et al. 2021)."""
    v, N, Ps, seeds = 64, 6, (12, 24, 96), 400
    static = dict(latent_dim=v, teacher="power", minnorm=True, width_inf=False)
    nested = dict(width=(N,), samples=Ps + (INF,))
    dyn = {"alpha": jnp.full(seeds, 1.0), "beta": jnp.full(seeds, 0.25), "ridge": jnp.zeros(seeds), "noise": jnp.zeros(seeds)}
    keys = jax.vmap(jax.random.key)(jnp.arange(seeds, dtype=jnp.uint32))
    out = jax.jit(jax.vmap(lambda d, k: evaluate(static, nested, d, k)))(dyn, keys)
    excess = np.asarray(out["excess"])[:, 0, :-1]  # (seeds, P)
    l_inf = np.asarray(out["approx"])[:, 0, 0]
    # condition on each seed's features: E[excess | W] = l_inf N / (P - N - 1)
    pred = l_inf[:, None] * N / (np.array(Ps) - N - 1.0)
    ratio = excess.mean(0) / pred.mean(0)
    se = (excess / pred.mean(0)).std(0) / math.sqrt(seeds)
    assert np.all(np.abs(ratio - 1) < 4 * se + 0.02), (ratio, se)


@pytest.mark.parametrize("ridge", [0.0, 1e-3])
def test_gram_accumulation_and_direct_paths_agree(monkeypatch, ridge):
    """The accelerator path (Grams accumulated over blocks) and the CPU path (formed directly)."""
    import jax

    from toyscale.models import random_features as rf

    static = {"latent_dim": 128, "teacher": "power", "minnorm": ridge == 0.0, "width_inf": False,
              "activation": "linear", "learner": "ridge"}
    nested = {"width": (4.0, 8.0, 16.0, 24.0), "samples": (8.0, 12.0, 20.0, 32.0, float("inf"))}
    dyn = {"alpha": 1.0, "beta": 0.25, "ridge": ridge, "noise": 0.1}
    out = {}
    for acc in (False, True):
        monkeypatch.setattr(rf, "_accumulate_grams", lambda acc=acc: acc)
        out[acc] = np.asarray(rf.evaluate(static, nested, dyn, jax.random.key(1))["loss"])
    np.testing.assert_allclose(out[False], out[True], rtol=1e-9)


def test_wide_widths_agree_with_the_feature_space_solves():
    """Widths N > v are solved in the v x v or P x P space (never N x N); the losses agree with
    the N x N feature-space solves (population Cholesky, primal / dual ridge, min-norm kernel)
    to rtol 1e-8 in float64, and min-norm with P >= v is least squares in the latent space."""
    from toyscale.models import random_features as rf

    rng = np.random.default_rng(4)
    v, wide = 48, [64, 96, 160]
    j = np.arange(1, v + 1.0)
    lam, b = j ** -1.6, j ** -0.4
    W = jnp.asarray(rng.standard_normal((v, max(wide))))
    X = jnp.asarray(rng.standard_normal((120, v)) * np.sqrt(lam))
    y = X @ b + 0.1 * jnp.asarray(rng.standard_normal(120))
    lam, b = jnp.asarray(lam), jnp.asarray(b)
    bDb = jnp.sum(lam * b * b)
    for ridge, Ps in [(1e-3, [16, 40, 48, 100, math.inf]), (0.05, [16, 100, math.inf]), (0.0, [16, 40])]:
        L1, A1 = rf._wide_columns(W, lam, b, X, y, wide, Ps, ridge, ridge == 0)
        L2, A2 = rf._narrow_columns(W, lam, b, bDb, X, y, wide, Ps, ridge, ridge == 0, False)
        np.testing.assert_allclose(np.asarray(L1), np.asarray(L2), rtol=1e-8)
        if ridge > 0:
            np.testing.assert_allclose(np.asarray(A1), np.asarray(A2), rtol=1e-8)
    L, A = rf._wide_columns(W, lam, b, X, y, wide, [100, math.inf], 0.0, True)
    beta = np.linalg.lstsq(np.asarray(X[:100]), np.asarray(y[:100]), rcond=None)[0]
    np.testing.assert_allclose(np.asarray(L[:, 0]), 0.5 * np.sum(np.asarray(lam) * (beta - np.asarray(b)) ** 2), rtol=1e-8)
    assert np.all(np.abs(np.asarray(A)) < 1e-20)  # P = inf, N > v: the target itself


def test_memory_estimate_of_wide_widths_counts_no_width_squared_matrix():
    """Widths above v never form an N x N matrix, so the chunk-sizing estimate must not count
    one: at v = 1024, N = 8192, P = 32 it lies between the W draw (8 v N bytes) and one N x N
    float64 matrix (8 N^2 = 512 MiB), and a width at v still counts its v x v systems."""
    from toyscale.models import random_features as rf

    static = {"latent_dim": 1024, "learner": "ridge"}
    wide = rf.cell_bytes(static, {"width": (2048.0, 8192.0), "samples": (16.0, 32.0)})
    assert 8 * 1024 * 8192 <= wide < 8 * 8192 ** 2
    narrow = rf.cell_bytes(static, {"width": (1024.0,), "samples": (16.0, 32.0)})
    assert narrow >= 6 * 8 * 1024 ** 2
