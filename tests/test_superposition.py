"""Superposition toy model: sampler, signed weight decay, padding, batching, theory, end to end.

Tolerances: the sampler is checked against its closed-form marginal within 5 binomial standard
errors; training comparisons (padded vs unpadded, vmapped vs looped) allow float32 round-off
accumulated over a few dozen Adam steps (rtol 2e-4), or float64 round-off (1e-9) when x64 is on.
"""

from toyscale.theory.base import Slice
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import toyscale  # noqa: F401  (XLA CPU workaround before the backend starts)
from toyscale.experiment import experiment_from_dict
from toyscale.models import get_model
from toyscale.models import superposition as sp
from toyscale.store import ResultStore
from toyscale.sweep import run_experiment
from toyscale.theory import superposition as th


def _rtol():
    return 1e-9 if jax.config.jax_enable_x64 else 2e-4


NESTED = {"steps": (30,)}  # record the end of a 30-step run


def _static(**kw):
    s = dict(n_features=32, width=8, batch_size=16, horizon=30, warmup=3, value_dist="uniform02")
    s.update(kw)
    return s


def _dyn(**kw):
    d = dict(width=5, alpha=0.3, weight_decay=-1.0, lr=1e-2, importance=1.0)
    d.update(kw)
    return {k: jnp.asarray(v, jnp.result_type(float)) for k, v in d.items()}


@pytest.mark.parametrize("dist,mean", [("uniform02", 1.0), ("uniform01", 0.5)])
def test_sampler_marginal_matches_closed_form(dist, mean):
    n, alpha, B = 12, 0.5, 100_000
    p = sp.feature_probs(n, alpha)
    np.testing.assert_allclose(np.asarray(p), th.feature_probs(n, alpha), rtol=1e-5)
    x = np.asarray(sp.sample_features(jax.random.key(0), p, B, dist))
    active = x > 0
    freq = active.mean(0)
    se = np.sqrt(np.asarray(p) * (1 - np.asarray(p)) / B)
    assert np.all(np.abs(freq - np.asarray(p)) < 5 * se)
    vals = x[active]
    # Uniform(0, c) given activity: mean c/2, variance c^2/12
    c = 2 * mean
    assert abs(vals.mean() - mean) < 5 * c / math.sqrt(12 * vals.size)
    assert vals.max() < c and vals.min() > 0


def test_signed_weight_decay_matches_hand_computed_update():
    W = jnp.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])  # row norms 5, 0.5, 0
    zeros = jnp.zeros_like(W)
    t = sp.signed_weight_decay(0.3)
    d, _ = t.update(zeros, t.init(W), W)
    np.testing.assert_allclose(d, 0.3 * W, rtol=1e-6)
    t = sp.signed_weight_decay(-1.0)
    d, _ = t.update(zeros, t.init(W), W)
    want = np.array([[3.0 * 0.8, 4.0 * 0.8], [0.3 * -1.0, 0.4 * -1.0], [0.0, 0.0]])  # W_i (1 - 1/|W_i|)
    np.testing.assert_allclose(d, want, rtol=1e-6, atol=1e-7)
    assert np.all(np.isfinite(np.asarray(d)))
    # In the chain (zero gradient -> Adam direction 0): the update rules of docs/theory.md §2.
    lr = 0.1
    for wd in (0.5, -0.7):
        opt = optax.chain(optax.scale_by_adam(), optax.masked(sp.signed_weight_decay(wd), {"W": True, "b": False}),
                          optax.scale_by_learning_rate(lr))
        params = {"W": W[:2], "b": jnp.ones(3)}
        upd, _ = opt.update(jax.tree.map(jnp.zeros_like, params), opt.init(params), params)
        new = optax.apply_updates(params, upd)
        w = np.asarray(W[:2])
        if wd >= 0:
            want = w * (1 - lr * wd)
        else:
            want = w + lr * wd * w * (1 - 1 / np.linalg.norm(w, axis=1, keepdims=True))
        np.testing.assert_allclose(new["W"], want, rtol=1e-6)
        np.testing.assert_allclose(new["b"], 1.0)  # no decay on the bias


def test_schedule_warmup_then_cosine_to_five_percent():
    f = sp.lr_schedule(1e-2, steps=100, warmup=10)
    assert float(f(0)) == pytest.approx(1e-3)
    assert float(f(9)) == pytest.approx(1e-2)
    assert float(f(10)) == pytest.approx(1e-2)
    assert float(f(100)) == pytest.approx(5e-4)
    vals = np.array([float(f(t)) for t in range(10, 101)])
    assert np.all(np.diff(vals) <= 1e-12)


def test_padded_bucket_equals_unpadded_model():
    dyn, key = _dyn(width=5), jax.random.key(3)
    p5, l5, _ = jax.jit(lambda d, k: sp.train(_static(width=5), d, k))(dyn, key)
    p8, l8, _ = jax.jit(lambda d, k: sp.train(_static(width=8), d, k))(dyn, key)
    assert np.all(np.asarray(p8["W"][:, 5:]) == 0.0)  # padded columns exactly zero
    np.testing.assert_allclose(l8, l5, rtol=_rtol(), atol=1e-7)
    np.testing.assert_allclose(p8["W"][:, :5], p5["W"], rtol=_rtol(), atol=1e-6)
    np.testing.assert_allclose(p8["b"], p5["b"], rtol=_rtol(), atol=1e-6)
    r5 = sp.evaluate(_static(width=5), NESTED, dyn, key)
    r8 = sp.evaluate(_static(width=8), NESTED, dyn, key)
    for k in ("loss", "represented_fraction", "mean_sq_overlap", "overlap_times_m"):
        np.testing.assert_allclose(r8[k], r5[k], rtol=10 * _rtol(), atol=1e-6)


def test_vmapped_equals_looped():
    static = _static()
    configs = [_dyn(width=5, alpha=0.2, weight_decay=-1.0), _dyn(width=8, alpha=0.8, weight_decay=0.5, lr=2e-2)]
    seeds = [0, 1]
    batched = {k: jnp.stack([c[k] for c in configs]) for k in configs[0]}
    f = jax.jit(jax.vmap(lambda d, s: sp.evaluate(static, NESTED, d, jax.random.key(s))))
    rv = f(batched, jnp.asarray(seeds, jnp.uint32))
    g = jax.jit(lambda d, s: sp.evaluate(static, NESTED, d, jax.random.key(s)))
    for i, (c, s) in enumerate(zip(configs, seeds)):
        r1 = g(c, jnp.asarray(s, jnp.uint32))
        for k in r1:
            np.testing.assert_allclose(np.asarray(rv[k][i], float), np.asarray(r1[k], float), rtol=_rtol(), atol=1e-6)


def test_diagnostics_closed_forms():
    # 4 orthonormal rows in R^4 plus one short row: fraction 4/5, overlap 0.
    W = jnp.concatenate([jnp.eye(4), 0.1 * jnp.ones((1, 4))])
    d = sp.diagnostics(W, 4)
    assert float(d["represented_fraction"]) == pytest.approx(0.8)
    assert float(d["mean_sq_overlap"]) == pytest.approx(0.0, abs=1e-6)
    # many random unit vectors in R^m: mean squared overlap ~ 1/m
    m = 16
    W = jax.random.normal(jax.random.key(0), (400, m))
    d = sp.diagnostics(W, m)
    assert float(d["overlap_times_m"]) == pytest.approx(1.0, rel=0.05)


def test_recorded_steps_are_window_means_and_diagnostics_of_that_step():
    # the metrics at recorded step s are those of training stopped at s: the loss is the mean
    # per-step loss over the last 10 % of the first s steps, the diagnostics those of W after s
    static = _static(width=6)
    dyn = {"width": jnp.asarray(6), "alpha": jnp.asarray(0.3), "weight_decay": jnp.asarray(-1.0),
           "lr": jnp.asarray(3e-2), "importance": jnp.asarray(1.0)}
    key = jax.random.key(5)
    rec = (3, 10, 30)
    out = sp.evaluate(static, {"steps": rec}, dyn, key)
    params, losses, _ = sp.train(static, dyn, key)
    losses = np.asarray(losses)
    for i, s_ in enumerate(rec):
        k = max(1, math.ceil(0.1 * s_))
        assert float(out["loss"][i]) == pytest.approx(losses[s_ - k:s_].mean(), rel=1e-6)
        prev = losses[s_ - 2 * k:s_ - k].mean() if s_ >= 2 * k else losses[s_ - k:s_].mean()
        assert float(out["drift"][i]) == pytest.approx((prev - losses[s_ - k:s_].mean()) / losses[s_ - k:s_].mean(),
                                                       rel=1e-4, abs=1e-6)
    d = sp.diagnostics(params["W"], 6)  # at s = horizon: the final W
    for name in ("represented_fraction", "mean_sq_overlap"):
        assert float(out[name][-1]) == pytest.approx(float(d[name]), rel=1e-5)
    assert out["status"].dtype == jnp.int32


def test_tail_sum_against_direct_sum():
    for n, alpha in [(1000, 0.2), (50, 1.0), (7, 0.0)]:
        p = np.array([i ** (-(1 + alpha)) for i in range(1, n + 1)])
        p /= p.sum()
        for m in [0, 1, 3, n // 2, n]:
            assert th.tail_sum(m, n, alpha) == pytest.approx(p[m:].sum(), abs=1e-12)
    # the slope is the least-squares log-log slope of the exact tail sums (numpy, independently)
    for n, alpha in [(1000, 0.2), (400, 0.7)]:
        xs = np.geomspace(10, 100, 6).round()
        p = np.arange(1, n + 1, dtype=float) ** (-(1 + alpha))
        p /= p.sum()
        tails = np.array([p[int(m):].sum() for m in xs])
        assert th.tail_slope(xs, n, alpha) == pytest.approx(np.polyfit(np.log(xs), np.log(tails), 1)[0], abs=1e-9)


def test_theory_regimes_from_measured_fraction():
    xs = [10.0, 20.0, 40.0]
    base = {"n_features": 1000, "alpha": 0.5, "weight_decay": 0.0}
    strong = th.predict("width", Slice(base, "width", tuple(xs), stats={"represented_fraction": np.array([0.98, 1.0, 1.0])}))
    assert strong.slope == -1.0 and strong.regime.startswith("strong")
    weak = th.predict("width", Slice(base, "width", tuple(xs), stats={"represented_fraction": np.array([0.011, 0.02, 0.041])}))
    assert weak.regime.startswith("weak")
    assert weak.slope == pytest.approx(th.tail_slope(xs, 1000, 0.5))
    assert weak.curve is not None and np.all(np.diff(weak.curve(np.array(xs))) < 0)
    off = th.predict("width", Slice(base, "width", tuple(xs), stats={"represented_fraction": np.array([0.001, 0.001, 0.002])}))
    assert off.slope is None and off.regime.startswith("decay")
    mid = th.predict("width", Slice(base, "width", tuple(xs), stats={"represented_fraction": np.array([0.3, 0.4, 0.5])}))
    assert mid.slope is None
    ovl = th.predict("width", Slice(base, "width", tuple(xs), metric="mean_sq_overlap",
                     stats={"represented_fraction": np.ones(3)}))
    assert ovl.metric == "mean_sq_overlap" and ovl.slope == -1.0
    assert th.predict("width", Slice({**base, "weight_decay": -1.0}, "width", tuple(xs))).slope == -1.0  # no stats: from wd sign
    assert th.predict("alpha", Slice(base, "alpha", tuple([0.1, 0.2]))).slope is None


def test_end_to_end_tiny_sweep(tmp_path):
    doc = {"model": "superposition", "seeds": 2,
           "params": {"n_features": 64, "batch_size": 32, "horizon": 60, "warmup": 6},
           "sweep": {"width": [4, 6, 8], "weight_decay": [-1.0, 1.0], "steps": [6, 20, 60]},
           "checks": [{"axis": "width", "where": {"weight_decay": -1.0}, "name": "strong"}]}
    exp = experiment_from_dict(doc, name="tiny")
    s = run_experiment(exp, tmp_path, progress=False)
    assert s.computed == 36 and not s.failed_chunks
    df = ResultStore(tmp_path).load()
    # step 6 ends the warm-up: not judged yet (transient); 20 and 60 are judged
    assert (df[df.steps == 6].status == "transient").all()
    assert df[df.steps > 6].status.isin(["ok", "unconverged"]).all()
    assert sorted(set(df.steps)) == [6, 20, 60]
    assert df.represented_fraction.between(0, 1).all() and (df.loss > 0).all()
    m = get_model("superposition")
    assert m.param("width").role == "shape" and m.param("weight_decay").role == "dynamic"
    assert run_experiment(exp, tmp_path, progress=False).computed == 0  # resumed: nothing to do
    # the status is data, decided by the model: drift > 5 % and > 3 sqrt(2) s.e.
    flag = (df.drift > sp.DRIFT_FLAG) & (df.drift > sp.NOISE_FLAG * np.sqrt(2) * df.loss_sem)
    judged = df.steps > 6
    assert ((df.status[judged] == "unconverged") == flag[judged]).all()
    # the report fits the last step (time axis default), counts flagged rows and draws curves
    from toyscale.report import make_report

    e = make_report(tmp_path).checks[0]
    strong = df[(df.weight_decay == -1.0) & (df.steps == 60)]
    assert e["where"]["steps"] == 60 and e["n_runs"] == len(strong) == 6
    assert e["n_flagged"] == int((strong.status == "unconverged").sum())
    # a regime with branches writes them to summary.json (generic: Prediction.alternatives)
    assert ("alternatives" in json.loads((tmp_path / "summary.json").read_text())["checks"][0]) == ("alternatives" in e)
    assert (tmp_path / "figures" / "strong_curves.png").stat().st_size > 0


@pytest.mark.slow
def test_strong_regime_width_exponent_near_minus_one(tmp_path):
    """wd = -1: L ~ m^-1 (Liu, Liu & Gore 2025); reduced budget, see docs/superposition.md."""
    from toyscale.fit import fit_scaling

    doc = {"model": "superposition", "seeds": 2,
           "params": {"alpha": 0.5, "weight_decay": -1.0, "batch_size": 256, "horizon": 2000, "warmup": 200},
           "sweep": {"width": [10, 18, 32, 56, 100]}}
    run_experiment(experiment_from_dict(doc, name="strong"), tmp_path, progress=False)
    df = ResultStore(tmp_path).load()
    xs = sorted(set(df.width))
    Y = np.array([[df[(df.width == x) & (df.seed == s)].loss.item() for s in (0, 1)] for x in xs])
    fit = fit_scaling(np.array(xs, float), Y)
    assert abs(fit.slope + 1.0) < 0.15
    assert (df.represented_fraction > th.STRONG_FRACTION).all()


# ----------------------------------------------------------------------------- a >= -1


@pytest.mark.parametrize("a", [-1.0, -0.75, -0.5, -0.125, 0.0, 0.3, 1.0, 2.5])
def test_frequencies_normalised_and_non_increasing_for_every_a_from_minus_one(a):
    # p_i ~ i^-(1+a): for a >= -1 the exponent 1 + a >= 0, so p_i does not increase with rank
    for n in (7, 1000):
        p = np.asarray(sp.feature_probs(n, a))
        assert p.sum() == pytest.approx(1.0, rel=1e-5)
        assert np.all(np.diff(p) <= 1e-7 * p[0])
        ref = th.feature_probs(n, a)
        np.testing.assert_allclose(p, ref, rtol=2e-5)
        assert np.all(np.diff(ref) <= 0.0) and ref.sum() == pytest.approx(1.0, abs=1e-12)
        # paper convention: p_i ~ i^-alpha_paper with alpha_paper = 1 + a
        np.testing.assert_allclose(ref[1] / ref[0], 2.0 ** -th.alpha_paper(a), rtol=1e-12)


def test_a_minus_one_is_uniform():
    np.testing.assert_allclose(np.asarray(sp.feature_probs(50, -1.0)), 1 / 50, rtol=1e-6)
    np.testing.assert_allclose(th.feature_probs(50, -1.0), 1 / 50, rtol=1e-12)
    # the tail sum of uniform frequencies is 1 - m/n exactly
    np.testing.assert_allclose(th.tail_sum([0, 10, 25, 50], 50, -1.0), [1.0, 0.8, 0.5, 0.0], atol=1e-12)


@pytest.mark.parametrize("bad", [-1.01, -2.0, float("nan"), "x", True])
def test_alpha_below_minus_one_is_a_user_error(bad):
    from toyscale.errors import UserError

    doc = {"model": "superposition", "params": {"alpha": bad}, "sweep": {"width": [4, 8]}}
    with pytest.raises(UserError) as e:
        experiment_from_dict(doc, name="bad")
    msg = str(e.value)
    assert "params.alpha" in msg and "[-1, inf)" in msg, msg
    doc = {"model": "superposition", "sweep": {"width": [4, 8], "alpha": [0.0, bad]}}
    with pytest.raises(UserError, match=r"sweep\.alpha"):
        experiment_from_dict(doc, name="bad")


def test_negative_a_trains_and_is_accepted():
    doc = {"model": "superposition", "params": {"n_features": 32, "batch_size": 16, "horizon": 20, "warmup": 2},
           "sweep": {"width": [4], "alpha": [-1.0, -0.5]}}
    exp = experiment_from_dict(doc, name="neg")
    assert tuple(exp.values("alpha")) == (-1.0, -0.5) and exp.n_configs == 2
    r = sp.evaluate(_static(width=4, horizon=20, warmup=2), {"steps": (20,)}, _dyn(width=4, alpha=-1.0),
                    jax.random.key(0))
    assert np.isfinite(float(r["loss"][0])) and float(r["represented_fraction"][0]) > 0


# ----------------------------------------------------------------------------- overlap distribution


def test_overlap_distribution_matches_numpy_on_represented_pairs():
    rng = np.random.default_rng(0)
    n, m = 60, 5
    W = rng.normal(size=(n, m))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    W[::4] *= 0.3  # 15 rows below the represented norm
    W[1] = -W[2]  # one exact antipodal pair
    d = {k: float(v) for k, v in sp.diagnostics(jnp.asarray(W), m).items()}
    rep = np.linalg.norm(W, axis=1) > sp.REPRESENTED_NORM
    U = W[rep] / np.linalg.norm(W[rep], axis=1, keepdims=True)
    C = U @ U.T
    c = C[np.triu_indices(len(U), 1)]
    assert d["represented_fraction"] == pytest.approx(rep.mean())
    assert d["mean_sq_overlap"] == pytest.approx(np.mean(c ** 2), rel=1e-4)
    for name, q in (("sq_overlap_median", 0.5), ("sq_overlap_q90", 0.9), ("sq_overlap_q99", 0.99)):
        assert d[name] == pytest.approx(np.quantile(c ** 2, q), rel=1e-4, abs=1e-7)
    assert d["antipodal_fraction"] == pytest.approx(np.mean(c <= -sp.ANTIPODAL_COS), abs=1e-9)
    assert d["antipodal_fraction"] > 0
    # fewer than two represented rows: the distribution is undefined (null), the mean 0
    d1 = sp.diagnostics(jnp.asarray(np.vstack([W[2:3], 0.1 * W[3:]])), m)
    assert np.isnan(float(d1["sq_overlap_median"])) and np.isnan(float(d1["antipodal_fraction"]))
    assert float(d1["mean_sq_overlap"]) == 0.0


def test_random_unit_vector_overlap_law_matches_sampling():
    # cos^2 of random unit vectors in R^m ~ Beta(1/2, (m-1)/2): mean 1/m, quantiles, antipodal tail.
    # m = 5: about 2300 of the 319 600 pairs are near-antipodal, so the count's relative noise is
    # ~2 % (Poisson; pairs sharing a vector are weakly dependent): 10 % is > 4 standard errors.
    m, n = 5, 800
    W = jax.random.normal(jax.random.key(1), (n, m))
    d = {k: float(v) for k, v in sp.diagnostics(W, m).items()}
    assert d["mean_sq_overlap"] == pytest.approx(1 / m, rel=0.03)
    for name, q in (("sq_overlap_median", 0.5), ("sq_overlap_q90", 0.9), ("sq_overlap_q99", 0.99)):
        assert d[name] == pytest.approx(th.random_sq_overlap_quantile(q, m), rel=0.05)
    assert d["antipodal_fraction"] == pytest.approx(th.random_antipodal_fraction(m, sp.ANTIPODAL_COS), rel=0.1)
    assert th.welch_bound(n, m) == pytest.approx((n / m - 1) / (n - 1))
    assert th.welch_bound(n, m) < d["mean_sq_overlap"]


# ----------------------------------------------------------------------------- strong-regime branches


def _interference(U, p):
    """The heuristic loss of docs/theory.md §2.3 (relative units): sum_k p_k sum_{i != k} cos^2 / (n - 1)."""
    C = (U @ U.T) ** 2
    np.fill_diagonal(C, 0.0)
    return float(p @ C.sum(1)) / (len(p) - 1)


def test_construction_loss_equals_an_explicit_packing():
    # n = 6 features in R^3: feature 1 on its own axis, features 2..6 as 5 equally spaced lines in
    # the other plane (a tight frame: sum_i cos^2(w_i, w_k) = 5/2 for each k)
    n, m, a = 6, 3, 1.0
    p = th.feature_probs(n, a)
    ang = np.pi * np.arange(5) / 5
    U = np.zeros((n, m))
    U[0, 0] = 1.0
    U[1:, 1], U[1:, 2] = np.cos(ang), np.sin(ang)
    K1 = th.tail_sum(1, n, a) * ((n - 1) / (m - 1) - 1) / (n - 1)
    assert _interference(U, p) == pytest.approx(K1, rel=1e-12)
    # K = 0: 6 equiangular lines in R^3 (icosahedron diagonals) meet the Welch bound
    phi = (1 + 5 ** 0.5) / 2
    V = np.array([[0, 1, phi], [0, 1, -phi], [1, phi, 0], [1, -phi, 0], [phi, 0, 1], [-phi, 0, 1]], float)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    assert _interference(V, p) == pytest.approx(float(th.welch_bound(n, m)), rel=1e-12)
    # K = 2: features 3..6 share the last axis (cos^2 = 1, 3 partners each)
    K2 = th.tail_sum(2, n, a) * 3 / (n - 1)
    W = np.zeros((n, m))
    W[0, 0] = W[1, 1] = 1.0
    W[2:, 2] = 1.0
    assert _interference(W, p) == pytest.approx(K2, rel=1e-12)
    assert float(th.construction_loss(m, n, a)) == pytest.approx(min(K1, K2, float(th.welch_bound(n, m))), rel=1e-12)


def test_strong_branches_limits():
    xs = np.geomspace(10, 100, 6).round()
    for a in (-1.0, -0.5, 0.0, 0.5, 1.0):
        assert np.all(th.construction_loss(xs, 1000, a) <= th.welch_bound(1000, xs) * (1 + 1e-12))
    np.testing.assert_allclose(th.construction_loss(xs, 1000, -1.0), th.welch_bound(1000, xs), rtol=1e-12)
    # asymptotically (n >> m >> 1) the construction's exponent is 1 + a = alpha_paper for a > 0, 1 for a < 0
    big = np.geomspace(1000, 10000, 5).round()
    for a, want in ((-0.5, -1.0), (0.5, -1.5), (1.0, -2.0)):
        assert th.strong_branches(big, 10**7, a)["top-K construction, finite n"] == pytest.approx(want, abs=0.01)
    b = th.strong_branches(xs, 1000, 0.5)
    assert b["paper 2(alpha_paper-1)"] == -1.0 and b["geometric (1/m)"] == -1.0
    assert "paper 2(alpha_paper-1)" not in th.strong_branches(xs, 1000, -0.5)
    pred = th.predict("width", Slice({"n_features": 1000, "alpha": 0.5, "weight_decay": -1.0}, "width", tuple(list(xs))))
    assert pred.slope == -1.0 and pred.alternatives == b
    weak = th.predict("width", Slice({"n_features": 1000, "alpha": 0.5, "weight_decay": 1.0}, "width", tuple(list(xs))))
    assert weak.alternatives["tail law -(alpha_paper-1)"] == -0.5
    assert weak.alternatives["finite-n tail sum"] == pytest.approx(th.tail_slope(xs, 1000, 0.5))


def test_report_records_the_branches_of_a_strong_slice():
    import pandas as pd

    from toyscale.analysis import evaluate_check

    xs = [10, 20, 40, 80]
    df = pd.DataFrame([{"width": m, "seed": s, "alpha": 0.5, "weight_decay": -1.0, "steps": 100, "status": "ok",
                        "loss": (1 + 0.01 * s) * m ** -1.3, "represented_fraction": 1.0} for m in xs for s in (0, 1)])
    model = get_model("superposition")
    e = evaluate_check(df, model, {"n_features": 1000}, {"name": "c", "axis": "width", "where": {"alpha": 0.5}}, n_boot=50)
    assert e["regime"].startswith("strong") and e["fitted"] == pytest.approx(-1.3, abs=1e-6)
    assert {a["label"]: a["slope"] for a in e["alternatives"]} == pytest.approx(th.strong_branches(xs, 1000, 0.5))


@pytest.mark.parametrize("a", [-0.99, -0.5, 0.0, 0.5, 1.0])
def test_strong_alpha_experiment_files_load_for_any_a(a):
    from pathlib import Path

    from toyscale.experiment import load_experiment

    root = Path(__file__).resolve().parents[1] / "experiments"
    for quick in (False, True):
        exp = load_experiment(root / "superposition_strong_alpha.toml", quick=quick, overrides=[f"params.alpha={a}"])
        assert exp.params["alpha"] == a and exp.n_configs > 0
    grid = load_experiment(root / "superposition_grid.toml")
    quick = load_experiment(root / "superposition_grid.toml", quick=True)
    for e, n_a, n_wd in ((grid, 17, 10), (quick, 9, 3)):
        a_vals = e.sweep["alpha"]  # both reference frequency grids merged: a in linspace(-1, 1, 17)
        assert len(a_vals) == n_a and min(a_vals) == -1.0 and max(a_vals) == 1.0
        assert len(e.sweep["weight_decay"]) == n_wd


def _stop_at_last_recorded(tmp_path, horizon, params):
    """Rows of ``steps = [200]`` on a ``horizon``-step schedule against the full run's step 200."""
    base = {"model": "superposition", "seeds": 2, "params": dict(params, horizon=horizon, warmup=100),
            "sweep": {"width": [4, 8], "weight_decay": [-1.0, 0.5]}}
    short = experiment_from_dict(dict(base, sweep=dict(base["sweep"], steps=[200])), name="short")
    full = experiment_from_dict(dict(base, sweep=dict(base["sweep"], steps=[200, horizon])), name="full")
    run_experiment(short, tmp_path / "short", progress=False)
    run_experiment(full, tmp_path / "full", progress=False)
    a = ResultStore(tmp_path / "short").load().sort_values(["width", "weight_decay", "seed"]).reset_index(drop=True)
    b = ResultStore(tmp_path / "full").load()
    b = b[b.steps == 200].sort_values(["width", "weight_decay", "seed"]).reset_index(drop=True)
    assert len(a) == len(b) == 8
    assert (a.status == b.status).all()
    for name in ("loss", "drift", "loss_sem", "represented_fraction", "mean_sq_overlap"):
        np.testing.assert_allclose(a[name], b[name], rtol=_rtol(), atol=1e-6, err_msg=name)


def test_training_stops_at_the_last_recorded_step():
    # the schedule follows the horizon, the scan stops at the largest recorded step
    static = _static(horizon=2000, warmup=100)
    _, losses, _ = jax.jit(lambda d, k: sp.train(static, d, k, (50, 200)))(_dyn(), jax.random.key(0))
    assert losses.shape == (200,)
    _, full, _ = jax.jit(lambda d, k: sp.train(static, d, k, (200, 2000)))(_dyn(), jax.random.key(0))
    assert full.shape == (2000,)
    np.testing.assert_allclose(losses, full[:200], rtol=_rtol(), atol=1e-7)


def test_rows_at_a_step_do_not_depend_on_later_recorded_steps(tmp_path):
    _stop_at_last_recorded(tmp_path, 2000, {"n_features": 32, "batch_size": 16})


@pytest.mark.slow
def test_rows_at_step_200_of_the_default_horizon_equal_the_full_run(tmp_path):
    # the default horizon (20 000 steps) trained in full against a run that records step 200 only
    assert get_model("superposition").param("horizon").default == 20000
    _stop_at_last_recorded(tmp_path, 20000, {"n_features": 100, "batch_size": 64})


# ----------------------------------------------------------------------------- statuses, profile, laws


def test_transient_rule_is_the_drift_windows_after_the_warmup():
    # s is judged iff both 10 % stretches the drift compares, (s - 2k, s], lie after the warm-up
    warm = 300
    steps = list(range(1, 1001))
    tr = sp.transient_steps(steps, warm)
    for s, t in zip(steps, tr):
        k = math.ceil(0.1 * s)
        assert t == (s - 2 * k < warm)
    assert tr[:375].all() and not tr[375:].any()  # first judged step: 376 = about 1.25 warm-up
    assert not sp.transient_steps([1, 2, 50], 0)[1:].any()  # no warm-up: judged from step 2


def test_interference_profile_matches_brute_force():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(40, 6))
    W[[3, 7, 11]] *= 0.01  # three rows below the represented norm
    W[5] = 0.0
    rep = np.linalg.norm(W, axis=1) > sp.REPRESENTED_NORM
    I = np.asarray(sp.interference_profile(jnp.asarray(W), jnp.asarray(rep)))
    U = W / np.maximum(np.linalg.norm(W, axis=1), 1e-30)[:, None]
    C = (U @ U.T) ** 2
    want = np.array([sum(C[k, i] for i in range(40) if i != k and rep[i]) for k in range(40)])
    np.testing.assert_allclose(I, want, rtol=1e-4, atol=1e-5)
    assert I[5] == 0.0
    # model bins == theory bins (the same rank bins, numpy), and the top ratio
    for m in (4, 6):
        b = sp.binned_profile(jnp.asarray(I), m)
        np.testing.assert_allclose([float(b[f"interference_b{j}"]) for j in range(8)], th.bin_profile(want, m),
                                   rtol=1e-4, equal_nan=True)
        k = np.arange(1, 41)
        assert float(b["interference_top_ratio"]) == pytest.approx(want[k <= m / 2].mean() / want[k > m / 2].mean(), rel=1e-4)


def test_profile_pictures_reproduce_the_construction_loss():
    # p-weighted top-K profile / (n - 1) is the construction's loss (its minimum over K)
    for n, m, a in ((512, 32, 1.0), (1000, 10, 0.5), (1000, 50, 0.2)):
        p = th.feature_probs(n, a)
        topk = th.profile_prediction("top-K", m, n, a)
        assert float(p @ topk) / (n - 1) == pytest.approx(float(th.construction_loss(m, n, a)), rel=1e-12)
        flat = th.profile_prediction("flat", m, n, a)
        assert float(p @ flat) / (n - 1) == pytest.approx(float(th.welch_bound(n, m)), rel=1e-12)
    assert th.construction_K(32, 512, 1.0) == 16  # a m / (1 + a)
    assert th.construction_K(32, 512, -0.5) == 0  # a <= 0: the flat packing is best


def test_profile_verdict_tells_the_pictures_apart():
    n, m, a = 512, 32, 1.0
    for pic in th.PROFILE_PICTURES:
        b = th.bin_profile(th.profile_prediction(pic, m, n, a), m)
        e = th.profile_errors(b, m, n, a)
        assert e[pic] == 0.0 and min(e.values()) == 0.0 and max(e.values()) > 0.5
        stats = {f"interference_b{j}": np.array([b[j]]) for j in range(8)}
        best, text = th.profile_verdict(stats, [float(m)], n, a)
        assert best == pic and "rel. error" in text
        # along steps the width is the slice's, the verdict the last step's
        stats2 = {k: np.array([np.nan, v[0]]) for k, v in stats.items()}
        assert th.profile_verdict(stats2, [10.0, 100.0], n, a, axis="steps", width=m)[0] == pic
    pred = th.predict("steps", Slice({"n_features": n, "alpha": a, "width": m}, "steps", (10.0,),
                                     stats={f"interference_b{j}": np.array([np.nan]) for j in range(8)},
                                     metric="interference_top_ratio"))
    assert pred.slope is None and pred.metric == "interference_top_ratio"


@pytest.mark.parametrize("law", ["exponential", "linear"])
def test_frequency_laws_match_closed_form(law):
    n = 50
    p = np.asarray(sp.feature_probs(n, 0.3, law=law, scale=7.0), float)
    i = np.arange(1, n + 1)
    want = np.exp(-(i - 1) / 7.0) if law == "exponential" else (n + 1.0 - i)
    np.testing.assert_allclose(p, want / want.sum(), rtol=1e-5)
    np.testing.assert_allclose(th.feature_probs(n, 0.3, law, 7.0), want / want.sum(), rtol=1e-12)
    assert np.all(np.diff(p) <= 0)
    with pytest.raises(ValueError, match="allowed"):
        th.feature_probs(n, 0.3, "zipf")


def test_per_parameter_learning_rates():
    lw, lb = sp.peak_lrs(0.02, 128.0, 0.25, 12.5, 1.0, 8.0)
    assert float(lw) == pytest.approx(0.02 * (8 / 128) ** 0.25) and float(lb) == pytest.approx(2 / 128)
    assert sp.peak_lrs(0.03, 77.0) == (0.03, 0.03)  # defaults: one lr, exactly
    # a bias learning rate of 0 leaves b at its initial value while W trains
    static = _static()
    dyn = _dyn(lr_bias_ratio=0.0)
    p1, _, _ = sp.train(static, dyn, jax.random.key(3), (30,))
    net = sp.TiedReLU(32, 8)
    p0 = sp.init_params(jax.random.split(jax.random.key(3))[0], net, dyn["width"], jnp.result_type(float))
    np.testing.assert_array_equal(np.asarray(p1["b"]), np.asarray(p0["b"]))
    assert not np.allclose(np.asarray(p1["W"]), np.asarray(p0["W"]))


def test_time_axis_prediction():
    base = {"n_features": 1000, "alpha": 1.0, "warmup": 300, "horizon": 12000}
    strong = th.predict("steps", Slice({**base, "weight_decay": -1.0}, "steps", (100.0, 3000.0)))
    assert strong.slope == -1.0 and strong.law == "power" and strong.valid == (375.0, 6000.0)
    weak = th.predict("steps", Slice({**base, "weight_decay": 0.15}, "steps", (100.0, 3000.0)))
    assert weak.slope == pytest.approx(-0.5) and "t^-1 (superposition, Chen et al. 2026)" in weak.alternatives
    # the measured represented fraction at the last step decides, not the sign of wd
    meas = th.predict("steps", Slice({**base, "weight_decay": 0.15}, "steps", (100.0, 3000.0),
                                     stats={"represented_fraction": np.array([0.5, 0.95])}))
    assert meas.slope == -1.0
    assert th.time_exponent(0.0) is None and th.time_exponent(0.5, "linear") is None


def test_profile_verdict_with_no_frequent_features_is_flat():
    # uniform frequencies: K* = 0, the top-K picture is the flat one, and the verdict says so
    n, m = 256, 16
    assert th.construction_K(m, n, -1.0) == 0
    b = th.bin_profile(th.profile_prediction("flat", m, n, -1.0), m) * 1.3
    best, text = th.profile_verdict({f"interference_b{j}": np.array([b[j]]) for j in range(8)}, [float(m)], n, -1.0)
    assert best == "flat" and "K* = 0" in text


def test_full_profile_option_stores_the_whole_profile(tmp_path):
    doc = {"model": "superposition", "seeds": 1,
           "params": {"n_features": 24, "batch_size": 16, "horizon": 20, "warmup": 2, "interference": "full"},
           "sweep": {"width": [4, 6], "steps": [10, 20]}}
    run_experiment(experiment_from_dict(doc, name="full"), tmp_path, progress=False)
    df = ResultStore(tmp_path).load()
    for _, r in df.iterrows():
        prof = np.asarray(r["interference_profile"], float)
        assert prof.shape == (24,) and np.all(prof >= 0)
        assert float(r["interference_mean"]) == pytest.approx(prof.mean(), rel=1e-5)
        k = np.arange(1, 25)
        m = r["width"]
        assert float(r["interference_b3"]) == pytest.approx(prof[(k > m / 2) & (k <= m)].mean(), rel=1e-5)
    # binned (the default) stores no whole profile
    doc["params"]["interference"] = "binned"
    run_experiment(experiment_from_dict(doc, name="binned"), tmp_path / "b", progress=False)
    assert ResultStore(tmp_path / "b").load()["interference_profile"].isna().all()
