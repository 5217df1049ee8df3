"""Scale-out: many processes on one output directory (``--shard I/N``), kill -9 and restart,
temporary files of live writers left alone, duplicate rows merged on load."""

import hashlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from toyscale.experiment import load_experiment
from toyscale.store import STALE_TMP_S, ResultStore, _host
from toyscale.sweep import plan, run_experiment, schedule

SHARD_EXP = """
model = "random_features"
seeds = 16
[params]
latent_dim = 64
alpha = 1.0
[sweep]
width = [4, 8, 16]
samples = [6, 12, inf]
ridge = [0.0, 1e-3]
beta = [0.25, 0.5]
[run]
memory_mb = 0.05
[[checks]]
axis = "width"
where = { samples = inf, ridge = 0.0, beta = 0.25 }
"""


def _cli(args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "toyscale", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _chunk_names(exp, part):
    """Final file names of the chunks process ``part`` writes in a run from scratch."""
    p = plan(exp)
    names = []
    for ch in schedule(p, set(), exp.memory_mb, part):
        hs = "".join(p.hashes[ri] for c in ch.cells for ri, _ in ch.rows(c))
        names.append(f"g{ch.group:03d}-" + hashlib.sha256(hs.encode()).hexdigest()[:16] + ".parquet")
    return names


@pytest.mark.slow  # kill -9 and resume: test_sweep; shards equal one process: test_shards
def test_three_shards_with_kill_9_and_restart_equal_one_process(tmp_path):
    path = tmp_path / "shard.toml"
    path.write_text(SHARD_EXP)
    exp = load_experiment(path)
    out = tmp_path / "sharded"
    mine = _chunk_names(exp, (1, 3))
    assert len(mine) >= 8
    args = lambda i: ["run", str(path), "--out", str(out), "--no-progress", "--shard", f"{i}/3"]  # noqa: E731
    procs = [_cli(args(i)) for i in range(3)]
    deadline = time.time() + 240
    while time.time() < deadline and procs[1].poll() is None:  # kill shard 1 once it wrote a chunk
        if sum((out / "chunks" / n).exists() for n in mine) >= 1:
            break
        time.sleep(0.005)
    killed = procs[1].poll() is None
    if killed:
        procs[1].send_signal(signal.SIGKILL)
    procs[1].wait()
    n_mine = sum((out / "chunks" / n).exists() for n in mine)
    for i in (0, 2):
        assert procs[i].wait(timeout=240) == 0, procs[i].stderr.read()
    assert killed and 1 <= n_mine < len(mine), (killed, n_mine, len(mine))
    before = len(ResultStore(out).load())
    assert before < exp.n_configs  # shard 1's share is missing: nobody else computed it
    restart = _cli(args(1))
    err = restart.communicate(timeout=240)[1]
    assert restart.returncode == 0, err
    assert "already stored" in err and "shard 1/3" in err

    run_experiment(exp, tmp_path / "single", progress=False)
    a = ResultStore(out).load().sort_values("config_hash").reset_index(drop=True)
    b = ResultStore(tmp_path / "single").load().sort_values("config_hash").reset_index(drop=True)
    raw = pd.concat([pd.read_parquet(f) for f in ResultStore(out).chunk_files()])
    assert len(raw) == len(a) == len(b) == exp.n_configs and a["config_hash"].is_unique  # none lost, none twice
    pd.testing.assert_frame_equal(a, b)  # bitwise: same device, same chunk shapes
    assert not list((out / "chunks").glob(".*.tmp"))
    # the shard that finished last saw every row and wrote the merged report
    summary = (out / "summary.json")
    assert summary.exists() and "dropped" in summary.read_text()
    import json
    (entry,) = json.loads(summary.read_text())["checks"]
    assert entry["n_seeds"] == 16 and entry["dropped"] == [] and entry["n_points"] == 3


def test_duplicate_rows_are_one_row_and_the_report_keeps_the_axis_value(tmp_path):
    path = tmp_path / "shard.toml"
    path.write_text(SHARD_EXP.replace("seeds = 16", "seeds = 3").replace("memory_mb = 0.05", "memory_mb = 1"))
    exp = load_experiment(path)
    out = tmp_path / "o"
    run_experiment(exp, out, progress=False)
    files = ResultStore(out).chunk_files()
    shutil.copy(files[0], files[0].with_name("g999-duplicate.parquet"))  # rows stored twice
    assert len(pd.concat([pd.read_parquet(f) for f in ResultStore(out).chunk_files()])) > exp.n_configs
    assert len(ResultStore(out).load()) == exp.n_configs
    from toyscale.report import make_report

    rep = make_report(out)
    (entry,) = rep.checks
    assert entry["dropped"] == [] and entry["n_points"] == 3 and entry["n_seeds"] == 3


def test_only_temporary_files_of_dead_writers_are_removed(tmp_path):
    store = ResultStore(tmp_path)
    store.chunks.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        h = _host()
        files = {
            "live": store.chunks / f".g000-a.{h}.{live.pid}.x1.tmp",
            "dead": store.chunks / f".g000-b.{h}.{dead.pid}.x2.tmp",
            "other_host_fresh": store.chunks / ".g000-c.elsewhere.123.x3.tmp",
            "other_host_old": store.chunks / ".g000-d.elsewhere.123.x4.tmp",
            "old_format_fresh": store.chunks / ".g000-e.abc123.tmp",
        }
        for f in files.values():
            f.write_bytes(b"partial")
        old = time.time() - STALE_TMP_S - 10
        os.utime(files["other_host_old"], (old, old))
        gone = {f.name for f in store.remove_stale_tmp()}
        assert gone == {files["dead"].name, files["other_host_old"].name}
        assert files["live"].exists() and files["other_host_fresh"].exists() and files["old_format_fresh"].exists()
    finally:
        live.kill()
        live.wait()


def test_bad_shard_exits_2(tmp_path, capsys):
    from toyscale.cli import main

    path = tmp_path / "e.toml"
    path.write_text(SHARD_EXP)
    for bad in ("3/3", "a/b", "1", "-1/2"):
        assert main(["run", str(path), "--out", str(tmp_path / "o"), f"--shard={bad}"]) == 2
        assert "--shard" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # the launcher without Slurm stays in the default run (test_error_paths)
def test_launch_runs_an_experiment_end_to_end_with_submitit_local_executor(tmp_path):
    pytest.importorskip("submitit")
    path = tmp_path / "shard.toml"
    path.write_text(SHARD_EXP.replace("seeds = 16", "seeds = 4").replace("memory_mb = 0.05", "memory_mb = 1"))
    out = tmp_path / "launched"
    res = subprocess.run([sys.executable, "-m", "toyscale", "launch", str(path), "--out", str(out), "--local",
                          "--array", "2"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "submitted 2 local jobs" in res.stderr
    exp = load_experiment(path)
    rows = ResultStore(out).load()
    assert len(rows) == exp.n_configs and rows["config_hash"].is_unique
    assert (out / "summary.json").exists() and (out / "report.md").exists()
    results = [pickle.loads(f.read_bytes()) for f in (out / "launch").glob("*_result.pkl")]
    assert len(results) == 2 and all(r[0] == "success" for r in results)  # submitit's record of both array tasks
    # each array task computed exactly its share of the cost-balanced partition (run --shard's)
    p = plan(exp)
    share = {i: sum(len(ch.rows(c)) for ch in schedule(p, set(), exp.memory_mb, (i, 2)) for c in ch.cells)
             for i in range(2)}
    assert {r[1]["part"][0]: r[1]["computed"] for r in results} == share
