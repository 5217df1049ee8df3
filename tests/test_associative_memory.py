"""Associative memories: closed forms against a direct numpy memory matrix, d = inf against the
seen set and the exact expectation, trained memories against a plain numpy training loop, the
reference's learning-rate scaling, prefixes in T, theory exponents, bad input."""

from toyscale.theory.base import Slice
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from toyscale.errors import UserError
from toyscale.experiment import experiment_from_dict
from toyscale.models import associative_memory as am
from toyscale.models.base import indexed_normal
from toyscale.store import ResultStore
from toyscale.sweep import run_experiment
from toyscale.theory import associative_memory as th


def _draws(seed, n, M, dmax, T):
    """The model's own random draws of one seed (x64 on): E (n, dmax), U (M, dmax), samples."""
    ks = am._keys(jax.random.key(seed))
    p = am.zipf_probs(n, 2.0, jnp.float64)
    E = np.asarray(indexed_normal(ks["E"], dmax, (n,), jnp.float64).T)
    U = np.asarray(indexed_normal(ks["U"], dmax, (M,), jnp.float64).T)
    xs = np.asarray(am.sample_tokens(ks["X"], p, T))
    return ks, E, U, xs


def _numpy_closed_form(scheme, E, U, xs, T, d, n, M, alpha, ratio, rho):
    """The memory matrix written out: W = sum_x q(x) e_x u_y(x)^T (d x d), scores E W U^T."""
    p = th.zipf_probs(n, alpha)
    y = np.arange(n) % M
    if math.isinf(T):
        counts = None
    else:
        T = int(T)
        counts = np.bincount(xs[:T], minlength=n).astype(float)
    if scheme == "true":
        q = p
    elif counts is None:
        q = p ** rho if scheme == "frequency" else (np.arange(n) < math.floor(ratio * d + 1e-6)).astype(float)
    elif scheme == "frequency":
        q = np.where(counts > 0, (counts / T) ** rho, 0.0)
    else:
        order = sorted(range(n), key=lambda x: (-counts[x], x))[: math.floor(ratio * d + 1e-6)]
        q = np.zeros(n)
        q[[x for x in order if counts[x] > 0]] = 1.0
    Ed, Ud = E[:, :d], U[:, :d] / np.linalg.norm(U[:, :d], axis=1, keepdims=True)
    W = sum(q[x] * np.outer(Ed[x], Ud[y[x]]) for x in range(n))
    wrong = (np.argmax(Ed @ W @ Ud.T, axis=1) != y) | (not np.any(q > 0))  # empty memory: all ties, errors
    return float(np.sum(p * wrong)), wrong


def _rows(doc, out):
    run_experiment(experiment_from_dict(doc, name="t"), out, progress=False)
    return ResultStore(out).load()


@pytest.mark.parametrize("scheme,rho", [("threshold", 0.0), ("frequency", 0.0), ("frequency", 1.0), ("true", 0.0)])
def test_closed_form_equals_the_memory_matrix_written_out(scheme, rho, tmp_path):
    n, M, ratio = 60, 4, 0.25
    ds, Ts = [3, 6, 12, 24], [5, 40, math.inf]  # d = 3: floor(d/4) = 0, an empty thresholding memory
    doc = {"model": "associative_memory", "seeds": [3], "precision": "float64",
           "params": {"vocab": n, "classes": M, "scheme": scheme, "rho": rho, "zipf": 2.0, "threshold_ratio": ratio},
           "sweep": {"width": ds, "samples": Ts}}
    df = _rows(doc, tmp_path / "r")
    with jax.enable_x64(True):
        _, E, U, xs = _draws(3, n, M, max(ds), 40)
    for _, r in df.iterrows():
        err, wrong = _numpy_closed_form(scheme, E, U, xs, r.samples, int(r.width), n, M, 2.0, ratio, rho)
        assert r.error == pytest.approx(err, abs=1e-12), (r.width, r.samples)
        assert r.error_head == pytest.approx(wrong[:30].mean()) and r.error_tail == pytest.approx(wrong[-30:].mean())


def test_infinite_memory_errs_exactly_on_unseen_tokens_and_matches_the_expectation(tmp_path):
    n, seeds, Ts = 400, 48, [10, 100, 1000]
    doc = {"model": "associative_memory", "seeds": seeds, "params": {"vocab": n, "scheme": "frequency", "width": math.inf},
           "sweep": {"samples": Ts}}
    df = _rows(doc, tmp_path / "r")
    p = th.zipf_probs(n, 2.0)
    with jax.enable_x64(True):
        for s in (0, 7):
            _, _, _, xs = _draws(s, n, 5, 1, max(Ts))
            for T in Ts:
                unseen = np.bincount(xs[:T], minlength=n) == 0
                got = df[(df.seed == s) & (df.samples == T)].error.item()
                assert got == pytest.approx(float(np.sum(p * unseen)), abs=1e-12)
    for T in Ts:
        e = df[df.samples == T].error.to_numpy()
        exact = th.store_all_seen_error(T, n, 2.0)
        z = abs(e.mean() - exact) / (e.std(ddof=1) / math.sqrt(len(e)))
        assert z < 4.0, (T, e.mean(), exact)  # sampling error only


def _numpy_train_matrix(E, UT, W, xs, lr, B, optimizer, M):
    """Plain numpy one-pass training of the 'matrix' memory (the reference's loop)."""
    d = W.shape[0]
    W = W.copy()
    for t in range(len(xs) // B):
        x = xs[t * B:(t + 1) * B]
        h = E[x]
        lg = h @ W @ UT
        pr = np.exp(lg - lg.max(1, keepdims=True))
        pr /= pr.sum(1, keepdims=True)
        pr[np.arange(B), x % M] -= 1.0
        g = h.T @ (pr / B) @ UT.T
        W -= (lr / d) * g / (np.abs(g) + am.ADAM_EPS) if optimizer == "adam" else lr * g
    return W


@pytest.mark.parametrize("optimizer,lr", [("adam", 3.0), ("sgd", 10.0)])
def test_trained_matrix_memory_equals_a_plain_numpy_loop(optimizer, lr, tmp_path):
    n, M, B, d, Ts = 30, 3, 4, 8, [8, 24]
    doc = {"model": "associative_memory", "seeds": [1], "precision": "float64",
           "params": {"vocab": n, "classes": M, "scheme": "learned", "variant": "matrix", "optimizer": optimizer,
                      "lr": lr, "batch_size": B, "width": d}, "sweep": {"samples": Ts}}
    df = _rows(doc, tmp_path / "r")
    with jax.enable_x64(True):
        ks, _, _, xs = _draws(1, n, M, d, max(Ts))
        P = {k: np.asarray(v) for k, v in am.init_memory(ks, n, M, d, jnp.float64).items()}
    p = th.zipf_probs(n, 2.0)
    for T in Ts:
        W = _numpy_train_matrix(P["E"], P["UT"], P["W"], xs[:T], lr, B, optimizer, M)
        wrong = np.argmax(P["E"] @ W @ P["UT"], axis=1) != np.arange(n) % M
        assert df[df.samples == T].error.item() == pytest.approx(float(np.sum(p * wrong)), abs=1e-12)


def test_reference_learning_rate_scaling():
    assert am.learning_rates("matrix", "adam", 2.0, 100) == {"W": 0.02}
    assert am.learning_rates("exponential", "adam", 2.0, 100) == {"E": 0.2, "UT": 0.2}
    assert am.learning_rates("learnable", "adam", 2.0, 100) == {"E": 0.2, "UT": 0.2, "W": 0.02}
    assert am.learning_rates("learnable", "sgd", 2.0, 100) == {"E": 2.0, "UT": 2.0, "W": 2.0}


def test_reordered_logits_equal_the_direct_product():
    with jax.enable_x64(True):
        P = am.init_memory(am._keys(jax.random.key(0)), 20, 5, 16, jnp.float64)
        x = jnp.arange(20)
        direct = (P["E"][x] @ P["W"]) @ P["UT"]
        np.testing.assert_allclose(am.logits(P, x, "matrix", False), direct, rtol=1e-12)


@pytest.mark.parametrize("variant,ln", [("learnable", 1), pytest.param("exponential", 0, marks=pytest.mark.slow)])
def test_other_variants_learn_and_record_prefixes(variant, ln, tmp_path):
    # A shorter sweep (T = 64 only) gives the same row as the prefix of the T = 128 run.
    base = {"model": "associative_memory", "seeds": [0],
            "params": {"vocab": 20, "classes": 2, "scheme": "learned", "variant": variant, "layernorm": ln,
                       "lr": 1.0, "batch_size": 8, "width": 16, "zipf": 1.0}}
    a = _rows({**base, "sweep": {"samples": [64, 128, 1024]}}, tmp_path / "a")
    b = _rows({**base, "sweep": {"samples": [64, 96]}}, tmp_path / "b")
    assert a[a.samples == 64].error.item() == b[b.samples == 64].error.item()
    assert (a.status == "ok").all() and a.train_loss.notna().all()
    e = a.sort_values("samples").error.to_numpy()
    assert e[-1] < e[0]  # more data, fewer errors


def test_divergence_is_a_status(tmp_path):
    doc = {"model": "associative_memory", "seeds": [0], "precision": "float32",
           "params": {"vocab": 20, "scheme": "learned", "variant": "learnable", "optimizer": "sgd", "lr": 1e30, "batch_size": 4, "width": 8},
           "sweep": {"samples": [8, 16]}}
    df = _rows(doc, tmp_path / "r")
    assert (df.status == "diverged").all()


@pytest.mark.parametrize("doc_update,field", [
    ({"params": {"scheme": "learned"}, "sweep": {"samples": [64, math.inf]}}, "sweep.samples"),
    ({"params": {"scheme": "learned", "samples": 64}, "sweep": {"width": [4, math.inf]}}, "sweep.width"),
    ({"params": {"scheme": "learned", "batch_size": 16}, "sweep": {"samples": [64, 100]}}, "sweep.samples"),
    ({"params": {"vocab": 10**6}, "sweep": {"width": [1000]}}, "params.vocab"),
    ({"params": {"scheme": "hopfield"}}, "params.scheme"),
])
def test_bad_input_names_the_field(doc_update, field):
    doc = {"model": "associative_memory", **doc_update}
    with pytest.raises(UserError) as e:
        experiment_from_dict(doc)
    assert e.value.field == field


def test_theory_exponents_and_curves():
    assert th.d_exponent("threshold", 1.5) == -0.5
    assert th.d_exponent("true", 1.5) == pytest.approx(-1 / 6)
    assert th.d_exponent("frequency", 2.0, 0.0) is None
    assert th.t_exponent(1.5) == pytest.approx(-1 / 3)
    # exact expectation vs its definition, and its slope at large N approaches -(1 - 1/alpha)
    p = th.zipf_probs(50, 2.0)
    assert th.store_all_seen_error(7, 50, 2.0) == pytest.approx(float(np.sum(p * (1 - p) ** 7)), rel=1e-12)
    Ts = np.geomspace(1e3, 1e5, 5)
    slope = np.polyfit(np.log(Ts), np.log(th.store_all_seen_error(Ts, 10**6, 2.0)), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.02)
    pred = th.predict("width", Slice({"scheme": "threshold", "zipf": 2.0, "samples": math.inf}, "width", (16, 32, 64)))
    # thresholding is scored against its exact finite-k curve: the slope of (1-1/M) sum_(x>=k) p(x),
    # k = floor(d/8) = 2, 4, 8, recomputed here from the definition; the asymptote -1 is the alternative
    tail = [float(np.sum(th.zipf_probs(1000, 2.0)[k:])) for k in (2, 4, 8)]
    assert pred.slope == pytest.approx(np.polyfit(np.log([16, 32, 64]), np.log(tail), 1)[0], rel=1e-9)
    assert -0.95 < pred.slope < -0.8 and pred.curve is not None
    assert dict(pred.alternatives) == {"asymptote d^-(alpha-1)": -1.0}
    # ... and it tends to the asymptote once k >> 1 (N large enough that the tail does not bend)
    assert th.threshold_slope([8e4, 8e5], 10**7, 2.0) == pytest.approx(-1.0, abs=0.01)
    assert th.predict("samples", Slice({"scheme": "frequency", "zipf": 2.0, "width": math.inf}, "samples", (10, 100))).curve is not None


def test_random_embedding_bound_from_its_definition():
    # (1 - 1/M) [sum_(x < K) p (1-p)^T + sum_(x >= K) p], K = d (M - 1): recomputed term by term
    n, M, T = 300, 4, 50
    p = th.zipf_probs(n, 1.5)
    for d in (1, 7, 40, 200):
        K = min(n, d * (M - 1))
        want = (1 - 1 / M) * (float(np.sum(p[:K] * (1 - p[:K]) ** T)) + float(np.sum(p[K:])))
        assert th.random_embedding_bound(d, n, 1.5, M, T) == pytest.approx(want, rel=1e-10)
    # T = inf: the tail beyond K; large d: the seen-token floor (1 - 1/M) sum_x p (1-p)^T
    assert th.random_embedding_bound(5, n, 1.5, M) == pytest.approx((1 - 1 / M) * float(np.sum(p[15:])), rel=1e-10)
    assert th.random_embedding_bound(10**4, n, 1.5, M, T) == pytest.approx(
        (1 - 1 / M) * float(th.store_all_seen_error(T, n, 1.5)), rel=1e-10)


def test_adam_zero_betas_equals_optax_adam_with_zero_betas():
    g = {"W": jax.random.normal(jax.random.key(0), (5, 4)), "b": jnp.array([0.0, 1e-9, -3.0])}
    ref = optax.scale_by_adam(b1=0.0, b2=0.0, eps=am.ADAM_EPS)
    st = ref.init(g)
    mine = am.adam_zero_betas()
    for t in range(3):
        gt = jax.tree.map(lambda x: x * (t + 1) - 0.5 * t, g)
        u_ref, st = ref.update(gt, st)
        u, _ = mine.update(gt, optax.EmptyState())
        for k in g:
            np.testing.assert_allclose(u[k], u_ref[k], rtol=1e-6, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["assoc_threshold", "assoc_true", "assoc_seen"])
def test_shipped_experiments_quick_agree_with_theory(name, tmp_path):
    # The acceptance checks (alpha = 2 and 1.5) at the --quick sizes (~15-60 s each).
    import toyscale

    res = toyscale.run(f"experiments/{name}.toml", tmp_path / name, quick=True, progress=False)
    for e in res.summary:
        assert e["agrees"], (e["name"], e["fitted"], e["theory"])
