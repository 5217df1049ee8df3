"""Provenance records: versions, devices, precision, times, git commit and dirty flag; never a
failure outside a checkout."""

import os
import shutil
import subprocess
from pathlib import Path

import jax
import pytest

import toyscale
from toyscale import provenance as P
from toyscale.experiment import load_experiment
from toyscale.sweep import resolve_precision, run_experiment

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {"toyscale", "jax", "jaxlib", "python", "os", "platform", "devices", "precision", "matmul_precision",
          "started", "finished", "git"}


def test_record_has_every_field():
    exp = resolve_precision(load_experiment(ROOT / "experiments" / "quickstart.toml", quick=True))
    rec = P.finish(P.start(exp), computed=3)
    assert FIELDS <= set(rec)
    assert rec["jax"] == jax.__version__ and rec["toyscale"]
    assert rec["platform"] == jax.local_devices()[0].platform
    assert rec["devices"] == [d.device_kind for d in jax.local_devices()]
    assert rec["precision"] == exp.precision == "float64" and rec["matmul_precision"] == exp.matmul_precision == "highest"
    assert rec["fingerprint"] == exp.fingerprint() and rec["computed"] == 3
    assert rec["started"] <= rec["finished"] and rec["started"].endswith("+00:00")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_and_dirty_flag(tmp_path):
    assert P.git_info(tmp_path) is None  # not a checkout: no provenance, no failure
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    run = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True, env=env)  # noqa: E731
    run("init", "-q")
    assert P.git_info(tmp_path) is None  # no commit yet
    (tmp_path / "f.py").write_text("x = 1\n")
    run("add", "f.py")
    run("commit", "-qm", "one")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    info = P.git_info(tmp_path)
    assert info["commit"] == head and info["dirty"] is False
    (tmp_path / "out").mkdir()  # untracked results do not make a checkout dirty
    (tmp_path / "out" / "r.json").write_text("{}")
    assert P.git_info(tmp_path)["dirty"] is False
    (tmp_path / "f.py").write_text("x = 2\n")
    assert P.git_info(tmp_path)["dirty"] is True


def test_no_git_binary_is_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on PATH
    assert P.git_info(ROOT) is None
    assert P.start()["git"] is None


@pytest.mark.slow  # a run recording its provenance stays in the default run
def test_records_round_trip_and_summarize(tmp_path):
    exp = resolve_precision(load_experiment(ROOT / "experiments" / "quickstart.toml", quick=True))
    out = tmp_path / "q"
    rec = P.start(exp)
    s = run_experiment(exp, out, progress=False)
    P.write_run(out, P.finish(rec, computed=s.computed))
    other = dict(P.finish(P.start(exp)), precision="float32", pid=rec["pid"] + 1)
    P.write_run(out, other)
    recs = P.runs(out)
    assert len(recs) == 2 and recs[0]["computed"] == 432
    summ = toyscale.load(out).provenance
    assert summ["runs"] == 2 and summ["precision"] == ["float64", "float32"] and summ["jax"] == jax.__version__
    text = "\n".join(P.lines(summ))
    assert "JAX " + jax.__version__ in text and "2 runs" in text
    assert P.lines(P.summary(tmp_path)) == ["provenance: not recorded"]


def test_experiment_json_keeps_the_creating_runs_provenance(tmp_path):
    from toyscale.store import ResultStore

    meta = {"name": "x", "fingerprint": "f", "experiment": {"model": "random_features"}}
    first = {**meta, "provenance": {"started": "1", "jax": "a"}}
    ResultStore(tmp_path).init(first)
    ResultStore(tmp_path).init({**meta, "provenance": {"started": "2", "jax": "b"}, "description": "edited"})
    got = ResultStore(tmp_path).read_meta()
    assert got["provenance"] == first["provenance"] and got["description"] == "edited"


def test_a_run_records_its_provenance_in_experiment_and_summary_json(tmp_path, capsys):
    """Every result directory says what made it: experiment.json keeps the creating run's record,
    summary.json the summary over every run that wrote rows, ``toyscale report`` prints it."""
    import json

    import toyscale
    from toyscale.cli import main

    doc = {"model": "random_features", "seeds": 2, "params": {"latent_dim": 64, "samples": float("inf")},
           "sweep": {"width": [4, 8, 16]}, "checks": [{"axis": "width"}]}
    res = toyscale.run(doc, out=tmp_path / "o", progress=False)
    meta = json.loads((tmp_path / "o" / "experiment.json").read_text())
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    for rec in (meta["provenance"], summary["provenance"]):
        assert rec["toyscale"] == toyscale.__version__ and rec["jax"] == jax.__version__ and rec["jaxlib"]
        assert rec["platform"] == "cpu" and rec["devices"] and rec["precision"] == "float64"
        assert rec["matmul_precision"] == "highest" and rec["started"]
        assert "git" in rec  # a checkout's commit and dirty flag, or None outside one
    assert summary["provenance"]["runs"] == 1 and summary["provenance"]["finished"] >= summary["provenance"]["started"]
    assert res.provenance["runs"] == 1
    capsys.readouterr()
    assert main(["report", str(tmp_path / "o")]) == 0
    assert "made by toyscale " + toyscale.__version__ in capsys.readouterr().err
