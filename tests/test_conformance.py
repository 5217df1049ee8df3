"""One battery for every registered model: metric shapes from ``jax.eval_shape``, finite values,
batched == one cell at a time, a second run into a NEW directory compiles nothing, theory answers,
and strict rank promotion (``jax_numpy_rank_promotion = "raise"``) throughout."""

import math
import subprocess
import sys

import jax
import numpy as np
import pytest

from toyscale.experiment import experiment_from_dict
from toyscale.models import get_model, list_models
from toyscale.analysis import theory_slice
from toyscale.theory.base import Frontier, Prediction, Theory
from toyscale.store import ResultStore
from toyscale.sweep import plan, run_experiment

MODELS = list_models()


def example(name, **run):
    m = get_model(name)
    assert m.example, f"model {name} declares no example experiment"
    return experiment_from_dict({"model": name, **m.example, **({"run": run} if run else {})}, name=f"conf-{name}")


def metric_array(df, name):
    col = df[name].to_numpy()
    return np.stack([np.asarray(v, float) for v in col]) if len(col) and np.ndim(col[0]) else col.astype(float)


@pytest.mark.parametrize("name", MODELS)
def test_declared_params_are_well_formed(name):
    m = get_model(name)
    for p in m.params:
        assert p.doc
        if p.default_from is None:
            assert p.coerce(p.default, p.name) == p.default
        else:
            assert p.default_from in m.param_names
    assert len({p.name for p in m.params}) == len(m.params)
    assert m.references and m.metrics and isinstance(m.theory, Theory)
    assert m.status_names[:2] == ("ok", "nonfinite")


@pytest.mark.parametrize("name", MODELS)
def test_example_runs_finite_and_batched_equals_unbatched(name, tmp_path):
    m = get_model(name)
    exp = example(name)
    with jax.numpy_rank_promotion("raise"):
        s = run_experiment(exp, tmp_path / "a", progress=False)
    assert s.computed == exp.n_configs and not s.failed_chunks
    assert s.compiles == len(plan(exp).groups)
    df = ResultStore(tmp_path / "a").load().sort_values("config_hash").reset_index(drop=True)
    assert len(df) == exp.n_configs and df.status.isin(m.usable_statuses()).all()
    for mt in m.metrics:
        if mt.optional:
            continue
        vals = metric_array(df, mt.name)
        assert vals.shape[0] == len(df) and np.isfinite(vals).all(), mt.name
    # one cell per chunk: every configuration evaluated unbatched
    orig = m.cell_bytes
    object.__setattr__(m, "cell_bytes", lambda static, nested: 2**40)  # > budget: one cell per chunk
    try:
        with jax.numpy_rank_promotion("raise"):
            run_experiment(example(name, memory_mb=1), tmp_path / "b", progress=False)
    finally:
        object.__setattr__(m, "cell_bytes", orig)
    df1 = ResultStore(tmp_path / "b").load().sort_values("config_hash").reset_index(drop=True)
    # vmapped vs one-at-a-time programs may order float reductions differently: float64 1e-9,
    # float32 2e-4 relative (measured 1.3e-7 on the CPU; the slack covers GPUs, TF32). Metrics
    # that are differences of such sums relative to the loss (superposition's drift, ~1e-3)
    # inherit the loss's absolute error: atol 1e-5 in float32 (measured 8e-7 on the CPU).
    rtol, atol = (1e-9, 1e-12) if exp.precision == "float64" else (2e-4, 1e-5)
    for mt in m.metrics:
        np.testing.assert_allclose(metric_array(df, mt.name), metric_array(df1, mt.name), rtol=rtol, atol=atol)
    assert (df.status == df1.status).all()


@pytest.mark.parametrize("name", [n if n in ("random_features", "superposition") else pytest.param(n, marks=pytest.mark.slow)
                                  for n in MODELS])  # a property of the engine's caching; two models by default
def test_second_run_into_new_directory_compiles_nothing(name, tmp_path):
    exp = example(name)
    run_experiment(exp, tmp_path / "first", progress=False)
    s = run_experiment(exp, tmp_path / "second", progress=False)
    assert s.computed == exp.n_configs and s.compiles == 0
    assert run_experiment(exp, tmp_path / "second", progress=False).computed == 0


@pytest.mark.parametrize("name", MODELS)
def test_theory_answers_for_every_swept_axis(name):
    # What the report relies on: a named regime, a metric the model reports, a valid interval,
    # a finite slope (or none), finite alternatives, a curve finite at the swept values, and a
    # frontier (if any) with finite or open exponents.
    m = get_model(name)
    exp = example(name)
    metrics = {mt.name for mt in m.metrics}
    for axis in exp.sweep:
        fixed = {k: exp.values(k)[0] for k in m.param_names}
        xs = sorted(float(x) for x in exp.sweep[axis] if isinstance(x, (int, float)) and math.isfinite(x))
        s = theory_slice(fixed, {}, axis, xs)
        assert axis not in s.params
        pred = m.theory.predict(axis, s)
        assert isinstance(pred, Prediction) and pred.regime, (name, axis)
        assert pred.metric in metrics, (name, axis, pred.metric)
        assert pred.law in ("power", "offset")
        assert pred.valid[0] < pred.valid[1]
        assert pred.slope is None or math.isfinite(pred.slope)
        assert all(math.isfinite(v) for v in pred.alternatives.values())
        if pred.curve is not None and xs:
            assert np.all(np.isfinite(np.asarray(pred.curve(np.array(xs)), float))), (name, axis)
        fr = m.theory.frontier(s)
        assert fr is None or (isinstance(fr, Frontier) and all(v is None or math.isfinite(v) for v in (fr.eta, fr.xi)))
        assert isinstance(m.theory.overlays((axis, axis), s), tuple)


def test_user_model_registered_first_does_not_hide_builtins():
    # Regression: the built-ins were loaded only while the registry was empty.
    code = ("import toyscale.models as M; M._REGISTRY['_mine'] = object(); "
            "names = M.list_models(); assert {'random_features', 'superposition'} <= set(names), names")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_models_draw_through_the_shared_helpers():
    # the precision audit re-evaluates a float32 row in float64 on the same numbers only if every
    # draw goes through toyscale.models.base (normal, uniform, indexed_normal: draws_in); a direct
    # jax.random draw in a model would make its audit compare two random problems
    import re
    from pathlib import Path

    import toyscale.models

    root = Path(toyscale.models.__file__).parent
    direct = re.compile(r"jax\.random\.(normal|uniform|truncated_normal|bernoulli|choice|permutation|randint|gamma|"
                        r"exponential|categorical|beta|laplace|logistic|cauchy|t)\(")
    found = [f"{p.name}:{i}" for p in sorted(root.glob("*.py")) if p.name != "base.py"
             for i, line in enumerate(p.read_text().splitlines(), 1) if direct.search(line)]
    assert not found, f"direct jax.random draws (use toyscale.models.base): {found}"
