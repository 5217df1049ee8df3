"""Model collapse from tail-cut data: the memory chain against a numpy re-implementation on the
same draws, the seed-mean error against the closed forms (exact at generation 0, the branching
process beyond), the T = inf limits, the floor's exponent in k at two Zipf exponents no
experiment file ships (through the run and its check), the theory's limits, and bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import toyscale
from toyscale.errors import UserError
from toyscale.experiment import experiment_from_dict
from toyscale.models import associative_memory as am
from toyscale.models import model_collapse as mc
from toyscale.store import ResultStore
from toyscale.sweep import run_experiment
from toyscale.theory import model_collapse as th
from toyscale.theory.associative_memory import zipf_probs


def _numpy_chain(seed, n, alpha, k, pi, T, gmax, memory="seen", capacity=math.inf):
    """Generations 0..gmax written out in numpy: the law, counts by bincount, the stored set
    (every seen token, or the ``capacity`` most counted with ties to the smaller index), the
    generated law = stored counts normalised. The draws are the model's own (same keys)."""
    p = zipf_probs(n, alpha)
    q0 = th.tail_cut_law(p, k)
    law = pi * p + (1 - pi) * q0
    key = jax.random.key(seed)
    errs, stored_n = [], []
    for g in range(gmax + 1):
        xs = np.asarray(am.sample_tokens(jax.random.fold_in(key, g), jnp.asarray(law), T))
        c = np.bincount(xs, minlength=n).astype(float)
        seen = np.nonzero(c > 0)[0]
        if memory == "threshold" and len(seen) > capacity:
            seen = np.array(sorted(seen, key=lambda i: (-c[i], i))[: int(capacity)])
        stored = np.zeros(n, bool)
        stored[seen] = True
        errs.append(float(p[~stored].sum()))
        stored_n.append(int(stored.sum()))
        kept = np.where(stored, c, 0.0)
        law = pi * p + (1 - pi) * kept / kept.sum()
    return np.array(errs), np.array(stored_n)


def _evaluate(n, alpha, k, pi, Ts, gens, seeds, memory="seen", capacity=math.inf):
    st = {"vocab": n, "memory": memory, "capacity": capacity}
    f = jax.jit(jax.vmap(lambda key: mc.evaluate(st, {"samples": tuple(Ts), "generation": tuple(gens)},
                                                 {"zipf_exponent": alpha, "tail_cut": float(k), "clean_fraction": pi},
                                                 key)))
    return f(jax.vmap(jax.random.key)(jnp.arange(seeds)))


@pytest.mark.parametrize("memory,capacity,k,pi", [("seen", math.inf, 30, 0.0), ("seen", math.inf, math.inf, 0.3),
                                                  ("threshold", 25, 60, 0.1)])
def test_chain_matches_numpy_on_the_same_draws(memory, capacity, k, pi):
    n, alpha, Ts, gens = 300, 1.3, (50, 400), (0, 1, 3)
    with jax.enable_x64(True):
        out = _evaluate(n, alpha, k, pi, Ts, gens, 2, memory, capacity)
        for seed in range(2):
            for i, T in enumerate(Ts):
                e, s = _numpy_chain(seed, n, alpha, k, pi, T, max(gens), memory, capacity)
                np.testing.assert_allclose(np.asarray(out["error"])[seed, i], e[list(gens)], rtol=1e-12, atol=1e-15)
                np.testing.assert_array_equal(np.asarray(out["stored"])[seed, i], s[list(gens)])
        floor = 0.0 if math.isinf(k) else float(zipf_probs(n, alpha)[int(k):].sum())
        np.testing.assert_allclose(np.asarray(out["floor"]), floor, rtol=1e-12, atol=1e-15)


def test_seed_mean_error_matches_the_closed_forms():
    """Generation 0 (tail cut, mixing) is an exact expectation; generations >= 1 use the
    branching approximation (exact to O(c/T) per token). Tolerance set before running: every
    setting within 4 standard errors of the seed mean (48 seeds)."""
    n, alpha, seeds = 20000, 1.5, 48
    combos = [(100, 0.0), (100, 0.1), (math.inf, 0.0), (math.inf, 0.2), (300, 0.1)]
    Ts, gens = (1000, 10000), (0, 3, 10)
    st = {"vocab": n, "memory": "seen", "capacity": math.inf}
    keys = jax.vmap(jax.random.key)(jnp.arange(seeds))
    with jax.enable_x64(True):
        f = jax.jit(jax.vmap(jax.vmap(lambda k, pi, key: mc.evaluate(
            st, {"samples": Ts, "generation": gens}, {"zipf_exponent": alpha, "tail_cut": k, "clean_fraction": pi},
            key), (None, None, 0)), (0, 0, None)))
        e = np.asarray(f(jnp.array([c[0] for c in combos], jnp.float64), jnp.array([c[1] for c in combos]),
                         keys)["error"])  # (combos, seeds, T, g)
    for c, (k, pi) in enumerate(combos):
        mean, se = e[c].mean(0), e[c].std(0, ddof=1) / math.sqrt(seeds)
        for i, T in enumerate(Ts):
            for j, g in enumerate(gens):
                theory = th.chain_error(T, n, alpha, k, g, pi)
                z = (mean[i, j] - theory) / se[i, j]
                assert abs(z) < 4, (k, pi, T, g, mean[i, j], theory, z)


def test_infinite_samples_store_the_support():
    n, alpha = 500, 1.2
    with jax.enable_x64(True):
        seen = _evaluate(n, alpha, 40, 0.0, (math.inf,), (0, 2), 1)
        thr = _evaluate(n, alpha, 40, 0.0, (math.inf,), (0, 2), 1, "threshold", 25)
        mixed = _evaluate(n, alpha, 40, 0.5, (math.inf,), (0, 2), 1, "threshold", 25)
    p = zipf_probs(n, alpha)
    np.testing.assert_allclose(np.asarray(seen["error"])[0, 0], p[40:].sum(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(thr["error"])[0, 0], p[25:].sum(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(mixed["error"])[0, 0], p[25:].sum(), rtol=1e-12)
    assert th.chain_error(math.inf, n, alpha, 40) == pytest.approx(p[40:].sum(), rel=1e-12)
    assert th.threshold_error(math.inf, n, alpha, 40, 25) == pytest.approx(p[25:].sum(), rel=1e-12)


@pytest.mark.parametrize("alpha", [1.35, 1.8])
def test_floor_exponent_in_k_at_unshipped_zipf_exponents(alpha, tmp_path):
    """The acceptance check: the fitted floor exponent in k within 0.05 of -(alpha - 1), at
    Zipf exponents no experiment file uses, through ``toyscale.run`` and the model's check
    (T = 3e5 draws: every kept token is seen, T q_k >= 20 for k <= 128)."""
    doc = {"model": "model_collapse", "seeds": 2, "precision": "float64",
           "params": {"vocab": 10**6, "zipf_exponent": alpha, "samples": 300000},
           "sweep": {"tail_cut": [16, 32, 64, 128]},
           "checks": [{"name": "floor_k", "axis": "tail_cut", "tolerance": 0.05}]}
    res = toyscale.run(doc, out=tmp_path / "floor", progress=False)
    c = res.check("floor_k")
    assert c["theory"] == pytest.approx(-(alpha - 1.0))
    assert c["n_points"] == 4
    assert abs(c["fitted"] - (alpha - 1.0) * -1) <= 0.05, c["fitted"]
    assert c["curve_rel_error"] < 1e-3  # the floor is reached: the data term is below 1e-3 of it


@pytest.mark.parametrize("alpha,k", [(1.35, 10000), (1.8, 1000)])
def test_T_exponent_below_the_floor_at_unshipped_zipf_exponents(alpha, k, tmp_path):
    """Below the crossover T* (~ k^alpha) the tail-cut memory follows Hutter's T^-(1-1/alpha):
    fitted slope within 0.05 (set before running) over T in [100, 3162], which the theory's
    validity window (T <= T*/10) contains (16 seeds)."""
    doc = {"model": "model_collapse", "seeds": 16, "precision": "float64",
           "params": {"vocab": 10**6, "zipf_exponent": alpha, "tail_cut": k},
           "sweep": {"samples": [100, 316, 1000, 3162]},
           "checks": [{"name": "T", "axis": "samples", "tolerance": 0.05}]}
    c = toyscale.run(doc, out=tmp_path / "T", progress=False).check("T")
    assert c["theory"] == pytest.approx(-(1 - 1 / alpha))
    assert c["n_points"] == 4
    assert c["agrees"], (c["fitted"], c["theory"])


def test_theory_limits():
    n, alpha = 1000, 1.5
    p = zipf_probs(n, alpha)
    # generation 0 without a cut is Hutter's Σ p (1 - p)^T
    assert th.chain_error(100, n, alpha) == pytest.approx(float(np.sum(p * (1 - p) ** 100)), rel=1e-12)
    # a critical lineage survives g generations w.p. ~ 2/g
    assert th.survival(2000) * 2000 == pytest.approx(2.0, rel=0.02)
    assert th.survival_exponent([1000, 2000, 4000]) == pytest.approx(-1.0, abs=0.01)
    # the stationary chain with clean fraction pi: T_eff = pi S(pi) T, pi = 1 is the clean memory
    assert th.effective_samples_factor(1.0) == 1.0
    assert th.chain_error(500, n, alpha, generation=300, clean_fraction=0.3) == pytest.approx(
        float(np.sum(p * np.exp(-th.effective_samples_factor(0.3) * 500 * p))), rel=0.05)
    # more generations never help without clean data; clean data always helps
    e = [th.chain_error(1000, n, alpha, generation=g) for g in (0, 1, 4, 16)]
    assert all(a < b for a, b in zip(e, e[1:]))
    e = [th.chain_error(1000, n, alpha, 50, 0, pi) for pi in (0.0, 0.1, 0.5)]
    assert all(a > b for a, b in zip(e, e[1:]))


@pytest.mark.parametrize("change,field", [({"params": {"tail_cut": 0}}, "params.tail_cut"),
                                          ({"params": {"memory": "all"}}, "params.memory"),
                                          ({"params": {"clean_fraction": 1.5}}, "params.clean_fraction"),
                                          ({"sweep": {"samples": [10**8], "generation": [100]}}, "sweep.samples")])
def test_bad_input_names_the_field(change, field):
    doc = {"model": "model_collapse", "seeds": 1, **change}
    with pytest.raises(UserError) as e:
        experiment_from_dict(doc)
    assert e.value.field == field


def test_rows_do_not_depend_on_other_generations_or_sizes(tmp_path):
    base = {"model": "model_collapse", "seeds": 2, "params": {"vocab": 300, "clean_fraction": 0.1}}
    a = {**base, "sweep": {"samples": [100], "generation": [2]}}
    b = {**base, "sweep": {"samples": [37, 100, 1000], "generation": [0, 2, 5]}}
    for name, doc in (("a", a), ("b", b)):
        run_experiment(experiment_from_dict(doc, name=name), tmp_path / name, progress=False)
    ra = ResultStore(tmp_path / "a").load().set_index("config_hash")
    rb = ResultStore(tmp_path / "b").load().set_index("config_hash").loc[ra.index]
    np.testing.assert_array_equal(ra["error"].to_numpy(float), rb["error"].to_numpy(float))
