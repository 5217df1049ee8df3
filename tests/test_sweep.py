"""Sweep engine and store: grouping, compile counts, status as data, resumability (kill -9)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from toyscale.experiment import experiment_from_dict
from toyscale.models import register
from toyscale.protocol import Metric, Model
from toyscale.theory.base import Prediction, Theory
from toyscale.params import Param
from toyscale.store import ResultStore
from toyscale.sweep import plan, run_experiment


def _toy_eval(static, nested, dyn, key):
    # y = c * n^-slope for each nested n; NaN for c < 0 ("a bad configuration"); diverged if c > 100
    n = jnp.asarray(nested["n"], jnp.float64)
    y = dyn["c"] * n ** (-dyn["slope"]) * jnp.where(dyn["c"] < 0, jnp.nan, 1.0)
    return {"y": y, "status": jnp.broadcast_to(jnp.where(dyn["c"] > 100, 2, 0), y.shape).astype(jnp.int32)}


TOY = register(Model(
    name="_toy",
    summary="test model: y = c n^-slope",
    params=(Param("c", float, 1.0, "scale"), Param("slope", float, 1.0, "exponent"),
            Param("n", int, 8, "size", low=1, role="nested"), Param("kind", str, "a", "group key", choices=("a", "b"), role="static")),
    metrics=(Metric("y", "value"),),
    evaluate=_toy_eval,
    theory=Theory(predict=lambda axis, s: Prediction("toy", -s["slope"], metric="y")),
    precision="float64",
))


def toy_exp(**sweep):
    return experiment_from_dict({"model": "_toy", "seeds": 2, "sweep": sweep}, name="toy")


def test_grouping_cells_and_one_compile_per_group(tmp_path):
    exp = toy_exp(c=[-1.0, 1.0, 2.0, 500.0], n=[4, 8, 16], kind=["a", "b"])
    p = plan(exp)
    assert len(p.groups) == 2  # one compiled program per static value
    assert all(g.nested["n"] == (4, 8, 16) for g in p.groups)
    assert sum(len(g.cells) for g in p.groups) == 4 * 2 * 2  # nested axis shared inside a cell
    s = run_experiment(exp, tmp_path / "o", progress=False)
    assert s.compiles == 2 and s.computed == exp.n_configs == 48
    df = ResultStore(tmp_path / "o").load()
    assert len(df) == 48 and df["config_hash"].is_unique
    # bad configurations are rows with a status, never dropped; the others are untouched
    assert set(df[df.c == -1.0].status) == {"nonfinite"}
    assert set(df[df.c == 500.0].status) == {"diverged"}
    ok = df[df.status == "ok"]
    np.testing.assert_allclose(ok.y, ok.c * ok.n.astype(float) ** -ok.slope, rtol=1e-12)
    # a second run finds everything stored: computes nothing, compiles nothing
    s2 = run_experiment(exp, tmp_path / "o", progress=False)
    assert s2.computed == 0 and s2.skipped == 48 and s2.compiles == 0


def test_chunks_padded_single_compile(tmp_path):
    exp = experiment_from_dict({"model": "_toy", "seeds": 5, "sweep": {"c": [1.0, 2.0, 3.0]}, "run": {"memory_mb": 1}})
    object.__setattr__(TOY, "cell_bytes", lambda static, nested: 2**20 // 4)  # 4 cells per chunk
    try:
        s = run_experiment(exp, tmp_path / "o", progress=False)
    finally:
        object.__setattr__(TOY, "cell_bytes", None)
    assert s.compiles == 1 and len(ResultStore(tmp_path / "o").chunk_files()) == 4  # 15 cells / 4


def test_interrupted_run_resumes_to_identical_rows(tmp_path):
    object.__setattr__(TOY, "cell_bytes", lambda static, nested: 2**20)  # one cell per chunk
    exp = experiment_from_dict({"model": "_toy", "seeds": 3, "sweep": {"c": list(np.linspace(0.5, 3, 6)), "n": [4, 8]},
                                "run": {"memory_mb": 1}})

    class Killed(Exception):
        pass

    def die(k):
        if k == 4:
            raise Killed

    try:
        with pytest.raises(Killed):
            run_experiment(exp, tmp_path / "a", progress=False, on_chunk=die)
        assert len(ResultStore(tmp_path / "a").chunk_files()) == 5
        run_experiment(exp, tmp_path / "a", progress=False)
        run_experiment(exp, tmp_path / "b", progress=False)
    finally:
        object.__setattr__(TOY, "cell_bytes", None)
    a = ResultStore(tmp_path / "a").load().sort_values("config_hash").reset_index(drop=True)
    b = ResultStore(tmp_path / "b").load().sort_values("config_hash").reset_index(drop=True)
    assert len(a) == len(b) == exp.n_configs
    pd.testing.assert_frame_equal(a.drop(columns="group"), b.drop(columns="group"))


def test_other_experiment_in_same_dir_is_refused(tmp_path):
    run_experiment(toy_exp(c=[1.0, 2.0]), tmp_path / "o", progress=False)
    from toyscale.errors import UserError
    with pytest.raises(UserError, match="different experiment"):
        run_experiment(toy_exp(c=[1.0, 3.0]), tmp_path / "o", progress=False)


KILL_EXP = """
model = "random_features"
seeds = 24
[params]
latent_dim = 512
[sweep]
width = [8, 16, 32, 64]
samples = [16, 64, inf]
alpha = [0.8, 1.0]
[run]
memory_mb = 1.5
"""


def _cli(args, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "toyscale", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, **kw)


def test_kill_9_then_rerun_equals_uninterrupted(tmp_path):
    exp = tmp_path / "kill.toml"
    exp.write_text(KILL_EXP)
    chunks = tmp_path / "a" / "chunks"
    proc = _cli(["run", str(exp), "--out", str(tmp_path / "a"), "--no-progress", "--no-report"])
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if chunks.exists() and len(list(chunks.glob("*.parquet"))) >= 3:
            break
        time.sleep(0.01)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = len(list(chunks.glob("*.parquet")))
    assert _cli(["run", str(exp), "--out", str(tmp_path / "a"), "--no-progress", "--no-report"]).wait() == 0
    assert _cli(["run", str(exp), "--out", str(tmp_path / "b"), "--no-progress", "--no-report"]).wait() == 0
    a = ResultStore(tmp_path / "a").load().sort_values("config_hash").reset_index(drop=True)
    b = ResultStore(tmp_path / "b").load().sort_values("config_hash").reset_index(drop=True)
    assert killed and 0 < n_before < len(ResultStore(tmp_path / "b").chunk_files())
    assert len(a) == len(b) == 24 * 4 * 3 * 2 and a["config_hash"].is_unique
    pd.testing.assert_frame_equal(a, b)  # identical values on the same device
    assert not list(chunks.glob(".*.tmp"))  # a torn temp file of the killed run is cleared on resume
