"""A row is a function of its configuration: the same parameters and seed give the same metrics
in any sweep (other maximum sizes, other neighbours) and any chunking, for every model."""

import math

import numpy as np
import pytest

from toyscale.errors import UserError
from toyscale.experiment import experiment_from_dict
from toyscale.models import get_model, list_models
from toyscale.store import ResultStore
from toyscale.sweep import config_hash, run_experiment

MODELS = list_models()


def _grown(name):
    """The model's example sweep with one more value on every swept axis where one is allowed
    (a larger maximum where valid, else a value below the minimum or between two values)."""
    m = get_model(name)
    doc = {"model": name, **m.example}
    sweep = dict(doc["sweep"])
    for axis, vals in doc["sweep"].items():
        num = [v for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
        if not num:
            continue
        p = m.param(axis)
        cands = [max(num) * 2, min(num) / 2, (min(num) + max(num)) / 2] if p.type is float or min(num) > 0 else [max(num) + 1]
        for c in cands:
            c = int(round(c)) if p.type is int else c
            if c in vals or (p.type is int and c < 1):
                continue
            trial = {**doc, "sweep": {**sweep, axis: list(vals) + [c]}}
            try:
                experiment_from_dict(trial)
            except UserError:
                continue
            sweep[axis] = list(vals) + [c]
            break
    return {**doc, "sweep": sweep}


def _rows(doc, out, **run):
    exp = experiment_from_dict({**doc, **({"run": run} if run else {})}, name="det")
    run_experiment(exp, out, progress=False)
    return ResultStore(out).load().set_index("config_hash").sort_index()


@pytest.mark.parametrize("name", MODELS)
def test_same_configuration_same_metrics_in_any_sweep_and_chunking(name, tmp_path):
    m = get_model(name)
    small = {"model": name, **m.example}
    big = _grown(name)
    assert big["sweep"] != small["sweep"], "the grown sweep must differ"
    a = _rows(small, tmp_path / "a")
    b = _rows(big, tmp_path / "b", memory_mb=1e-3)  # other neighbours, larger maxima, one cell per chunk
    common = a.index.intersection(b.index)
    assert len(common) == len(a), "every row of the small sweep is in the big one"
    a, b = a.loc[common], b.loc[common]
    assert (a.status == b.status).all()
    prec = experiment_from_dict(small).precision
    for mt in m.metrics:
        x = np.array([np.asarray(v, float) for v in a[mt.name]])
        y = np.array([np.asarray(v, float) for v in b[mt.name]])
        if prec == "float64":
            # Nested sizes are leading blocks of larger factorisations (Cholesky of the leading
            # block vs of the whole matrix): equal in exact arithmetic, not bitwise. 1e-12
            # relative for float64 (the bound); measured below 1e-14 on these sizes.
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-300, err_msg=mt.name)
        else:
            # float32 trained models: a cell's computation does not depend on the sweep, but a
            # vmapped program of another batch size may order reductions differently (measured
            # 1.3e-7 relative on the CPU); the drift metric is a difference of losses (atol).
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=1e-5, err_msg=mt.name)


def test_random_features_rows_do_not_depend_on_the_largest_width(tmp_path):
    # The defect this guards: W drawn as one (v, N_max) array changed the first N columns with
    # N_max (loss 0.0516 vs 0.0737 at N = 8, P = 32). Same chunk shapes here: bitwise equal.
    base = {"model": "random_features", "seeds": 1, "params": {"latent_dim": 256, "ridge": 1e-3}}
    a = _rows({**base, "sweep": {"width": [8, 16], "samples": [32]}}, tmp_path / "a")
    b = _rows({**base, "sweep": {"width": [8, 16, 32], "samples": [32, 64]}}, tmp_path / "b")
    common = a.index.intersection(b.index)
    assert len(common) == 2
    np.testing.assert_allclose(a.loc[common, "loss"], b.loc[common, "loss"], rtol=1e-13)


def test_config_hash_is_pinned():
    # The identity of a stored row must not change between versions: resuming depends on it.
    row = {"alpha": 1.0, "beta": 0.25, "latent_dim": 2048, "width": 64, "samples": math.inf, "seed": 3}
    assert config_hash("random_features", row) == "aefc215a4f2505f6a3c2"
    # ... and it is the documented recipe: sha256 of the sorted JSON, floats as repr, 20 hex digits
    import hashlib
    import json

    payload = json.dumps({"model": "random_features", "alpha": "1.0", "beta": "0.25", "latent_dim": 2048,
                          "width": 64, "samples": "inf", "seed": 3}, sort_keys=True)
    assert hashlib.sha256(payload.encode()).hexdigest()[:20] == "aefc215a4f2505f6a3c2"


@pytest.mark.parametrize("extra", [pytest.param({}, marks=pytest.mark.slow), {"polish": "lm", "weight_decay": 1e-5},
                                   {"polish_steps": 0, "adam_lr": 3e-2}], ids=["lbfgs", "lm", "adam-vmapped"])
def test_sequential_cells_make_chaotic_training_bitwise_independent_of_chunking(tmp_path, extra):
    # 150 L-BFGS iterations amplify a last-bit difference to ~1e-5 relative or more (docs/theory.md
    # §3.4); with the model's cells run one at a time (Model.sequential_cells) every cell runs the
    # same compiled arithmetic, so the rows must be bitwise equal in any sweep and chunking.
    # Adam alone runs vmapped (fixed-order sums, closed-form gradient): bitwise equal as well, in
    # chunks of 1 and of 3 cells, with 2 and 3 seeds.
    m = get_model("lottery")
    params = {**m.example["params"], "adam_steps": 20, "polish_steps": 150, **extra}
    total = params["adam_steps"] + params["polish_steps"]
    static = {"polish_steps": params["polish_steps"]}
    assert m.sequential_for(static) == (params["polish_steps"] > 0)
    small = {"model": "lottery", "seeds": 2, "params": params, "sweep": {"width": [3, 5], "steps": [10, total]}}
    big = {"model": "lottery", "seeds": 3, "params": params, "sweep": {"width": [3, 5, 6], "steps": [10, total]}}
    a = _rows(small, tmp_path / "a")
    b = _rows(big, tmp_path / "b", memory_mb=1e-3)
    b = b.loc[a.index]
    for mt in m.metrics:
        x = np.array([np.asarray(v, float) for v in a[mt.name]])
        y = np.array([np.asarray(v, float) for v in b[mt.name]])
        np.testing.assert_array_equal(x, y, err_msg=mt.name)
