"""One battery for every registered model: declared metrics come back with the declared shapes and
finite values, batched == one cell at a time, a second run compiles nothing, theory answers."""

import math

import numpy as np
import pytest

from toyscale.experiment import experiment_from_dict
from toyscale.models import get_model, list_models
from toyscale.models.base import Prediction
from toyscale.store import ResultStore
from toyscale.sweep import plan, run_experiment

MODELS = list_models()


def example(name, **run):
    m = get_model(name)
    assert m.example, f"model {name} declares no example experiment"
    return experiment_from_dict({"model": name, **m.example, **({"run": run} if run else {})}, name=f"conf-{name}")


@pytest.mark.parametrize("name", MODELS)
def test_declared_params_are_well_formed(name):
    m = get_model(name)
    for p in m.params:
        assert p.doc and p.coerce(p.default, p.name) == p.default
    assert len({p.name for p in m.params}) == len(m.params)
    assert m.references and m.metrics


@pytest.mark.parametrize("name", MODELS)
def test_example_runs_finite_and_batched_equals_unbatched(name, tmp_path):
    m = get_model(name)
    exp = example(name)
    s = run_experiment(exp, tmp_path / "a", progress=False)
    assert s.computed == exp.n_configs and not s.failed_chunks
    assert s.compiles == len(plan(exp).groups)
    df = ResultStore(tmp_path / "a").load().sort_values("config_hash").reset_index(drop=True)
    assert (df.status == "ok").all()
    for mt in m.metrics:
        vals = np.stack(df[mt.name].to_numpy()) if mt.size else df[mt.name].to_numpy(float)
        assert vals.shape == ((len(df), mt.size) if mt.size else (len(df),)) and np.isfinite(vals).all()
    # one cell per chunk: every configuration evaluated unbatched
    object.__setattr__(m, "cell_bytes", lambda static, nested: 2**40)  # > budget: one cell per chunk
    try:
        run_experiment(example(name, memory_mb=1), tmp_path / "b", progress=False)
    finally:
        object.__setattr__(m, "cell_bytes", _ORIGINAL[name])
    df1 = ResultStore(tmp_path / "b").load().sort_values("config_hash").reset_index(drop=True)
    rtol = 1e-9 if exp.precision == "float64" else 2e-4
    for mt in m.metrics:
        a = np.stack(df[mt.name].to_numpy()).astype(float) if mt.size else df[mt.name].to_numpy(float)
        b = np.stack(df1[mt.name].to_numpy()).astype(float) if mt.size else df1[mt.name].to_numpy(float)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)
    assert run_experiment(exp, tmp_path / "a", progress=False).compiles == 0


_ORIGINAL = {n: get_model(n).cell_bytes for n in MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_theory_answers_for_every_swept_axis(name):
    m = get_model(name)
    exp = example(name)
    for axis in exp.sweep:
        params = {k: exp.values(k)[0] for k in m.param_names if k != axis}
        xs = [x for x in exp.sweep[axis] if isinstance(x, (int, float)) and math.isfinite(x)]
        pred = m.theory(axis, params, xs)
        assert isinstance(pred, Prediction) and pred.regime


def test_user_model_registered_first_does_not_hide_builtins():
    # Regression: the built-ins were loaded only while the registry was empty.
    import subprocess
    import sys

    code = ("import toyscale.models as M; M._REGISTRY['_mine'] = object(); "
            "names = M.list_models(); assert {'random_features', 'superposition'} <= set(names), names")
    subprocess.run([sys.executable, "-c", code], check=True)
