"""All local devices: a chunk's cells sharded over 8 forced host devices give the rows of a
one-device run (float64 within 1e-12 relative; float32 bitwise at equal per-device batch).

Sharding itself is exact: each device runs the same vmapped program on its block of cells. What
can change a float32 row is the per-device batch size (8 devices split a 4-cell chunk padded to
8 into batches of 1; one device runs a batch of 4), which XLA's CPU code may vectorise with
another reduction order: measured 4e-7 relative (1 ulp) on the superposition example. float32
models are therefore compared at one cell per device (bitwise); float64 models at the default
chunking (within 1e-12, measured bitwise on random_features)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from toyscale.experiment import experiment_from_dict
from toyscale.models import get_model, list_models
from toyscale.store import ResultStore
from toyscale.sweep import run_experiment

MODELS = [m for m in list_models() if not m.startswith("_")]

EIGHT = """
import json, sys
import toyscale, jax
from toyscale.experiment import experiment_from_dict
from toyscale.sweep import run_experiment
assert len(jax.local_devices()) == 8, jax.local_devices()
out, docs = sys.argv[1], json.loads(sys.argv[2])
for name, doc in docs.items():
    exp = experiment_from_dict(doc, name="dev")
    s = run_experiment(exp, f"{out}/{name}", progress=False)
    assert s.devices == 8 and not s.failed_chunks, s
print(json.dumps({"devices": len(jax.local_devices())}))
"""


def doc(name):
    """The model's example; float32 models with one cell per chunk (see the module docstring)."""
    m = get_model(name)
    d = {"model": name, **m.example}
    if d.get("precision", m.precision) == "float32" and m.cell_bytes is not None:
        d["run"] = {"memory_mb": 1e-6}
    return d


#: Models compared in the default run (a float64 model, a float32 model compared bitwise, the
#: newest model); the others run with -m slow. One 8-device process per model, started on demand.
DEFAULT_MODELS = ("random_features", "superposition", "perceptron")


@pytest.fixture(scope="module")
def eight_device_root(tmp_path_factory):
    return {"root": tmp_path_factory.mktemp("eight"), "done": set()}


def eight_device_rows(state, name):
    """The rows of ``name``'s example run on 8 forced host devices (a subprocess, once per model)."""
    out = state["root"]
    if name not in state["done"]:
        env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip(),
                   JAX_PLATFORMS="cpu")
        res = subprocess.run([sys.executable, "-c", EIGHT, str(out), json.dumps({name: doc(name)})], env=env,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        assert json.loads(res.stdout.strip().splitlines()[-1]) == {"devices": 8}
        state["done"].add(name)
    return out


@pytest.mark.parametrize("name", [n if n in DEFAULT_MODELS else pytest.param(n, marks=pytest.mark.slow) for n in MODELS])
def test_eight_host_devices_give_the_rows_of_one_device(name, eight_device_root, tmp_path):
    rows = eight_device_rows(eight_device_root, name)
    exp = experiment_from_dict(doc(name), name="dev")
    s = run_experiment(exp, tmp_path / name, progress=False)
    assert s.devices == 1
    a = ResultStore(rows / name).load().set_index("config_hash").sort_index()
    b = ResultStore(tmp_path / name).load().set_index("config_hash").sort_index()
    assert list(a.index) == list(b.index) and (a.status == b.status).all()
    m = get_model(name)
    for mt in m.metrics:
        x = np.array([np.asarray(v, float) for v in a[mt.name]])
        y = np.array([np.asarray(v, float) for v in b[mt.name]])
        if exp.precision == "float64":
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-300, err_msg=mt.name)
        elif m.cell_bytes is not None:
            np.testing.assert_array_equal(x, y, err_msg=mt.name)
        else:  # no memory model: default chunking, per-device batch sizes differ (1 ulp)
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=1e-5, err_msg=mt.name)
