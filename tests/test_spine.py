"""Spine v2: the Python API, status/optional-metric protocol, theory curves and frontiers, the
schedule, and the defects a new user hit (each gives a correct result or exit 2, one line)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import toyscale
from toyscale.cli import main
from toyscale.experiment import experiment_from_dict
from toyscale.models import Frontier, Metric, Model, Prediction, Status, Theory, register
from toyscale.params import Param
from toyscale.store import ResultStore
from toyscale.sweep import plan, run_experiment, schedule

ROOT = Path(__file__).parent.parent
A, B = 1.0, 0.5  # L(N, t) = N^-A + t^-B: frontier eta = AB/(A+B), xi = B/(A+B) for C = N t


def _joint_eval(static, nested, dyn, key):
    N = jnp.asarray(nested["width"], jnp.float64)[:, None]
    t = jnp.asarray(nested["steps"], jnp.float64)[None, :]
    loss = dyn["scale"] * (N ** -A + t ** -B)
    # "capacity" applies only to widths >= 4 (optional: null elsewhere); status 3 = max_iterations
    cap = jnp.where(N >= 4, N * jnp.ones_like(t), jnp.nan)
    status = jnp.where(t >= 64, 3, 0) * jnp.ones_like(N, dtype=jnp.int32)
    return {"loss": loss, "capacity": cap, "status": status.astype(jnp.int32)}


def _joint_frontier(s):
    return Frontier("toy", A * B / (A + B), B / (A + B), note="minimise N^-A + (C/N)^-B over N")


JOINT = register(Model(
    name="_joint", summary="test model: L = scale (N^-A + t^-B), compute N t",
    params=(Param("scale", float, 1.0, "prefactor"),
            Param("width", int, 8, "size", low=1, role="nested"),
            Param("steps", int, 8, "recorded steps", low=1, role="nested")),
    metrics=(Metric("loss", "loss"), Metric("capacity", "width, where defined", optional=True)),
    evaluate=_joint_eval,
    theory=Theory(predict=lambda axis, s: Prediction(
        "toy", -A if axis == "width" else -B, law="offset", curve=(lambda x, p=s.params: p["scale"] * (np.asarray(x) ** -A + float(p["steps"]) ** -B))
        if axis == "width" else None), frontier=_joint_frontier),
    statuses=(Status("max_iterations", "stopped at the iteration cap", usable=True),),
    compute=lambda row: float(row["width"]) * float(row["steps"]),
    precision="float64",
))


def joint_doc(**kw):
    return {"model": "_joint", "seeds": 3,
            "sweep": {"width": [2 ** k for k in range(0, 13)], "steps": [2 ** k for k in range(0, 15)],
                      "scale": [1.0, 2.0]},
            "checks": [{"axis": "width", "where": {"scale": 1.0, "steps": 16}}],
            "frontiers": [{"name": "f", "where": {"scale": 1.0}, "tolerance": 0.03}], **kw}


def test_python_api_run_load_and_plot(tmp_path):
    res = toyscale.run(joint_doc(), out=tmp_path / "j", progress=False)
    assert isinstance(res, toyscale.Results) and res.run.computed == 3 * 13 * 15 * 2
    df = res.table
    # optional metric: null where not applicable, never a failure
    assert df.loc[df.width < 4, "capacity"].isna().all() and (df.loc[df.width >= 4, "capacity"] == df.width[df.width >= 4]).all()
    # status as data: the model's own status, counted per check
    assert set(df.status) == {"ok", "max_iterations"} and ((df.status == "max_iterations") == (df.steps >= 64)).all()
    e = res.check("width")
    assert e["where"]["steps"] == 16 and e["fitted"] == pytest.approx(-A, abs=0.05)
    # the theory curve is scored against the measured mean (exact here)
    assert e["curve_rel_error"] < 1e-9
    fig = res.plot("width")
    assert "scale=1" in fig.axes[0].get_title()
    again = toyscale.load(tmp_path / "j")
    assert again.summary == res.summary and again.run is None


def test_frontier_envelope_recovers_closed_form(tmp_path):
    res = toyscale.run(joint_doc(), out=tmp_path / "j", progress=False)
    (f,) = res.frontiers
    m = f["methods"][0]
    assert f["eta_theory"] == pytest.approx(A * B / (A + B)) and f["xi_theory"] == pytest.approx(B / (A + B))
    # the envelope of a grid of powers of two: within 0.03 of the closed-form exponents
    assert abs(m["eta"] - f["eta_theory"]) < 0.03 and abs(m["xi"] - f["xi_theory"]) < 0.08, m
    assert Path(f["figure"]).exists()


def test_readme_notebook_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\nimport toyscale")
    code = text[start + len("```python\n"):text.index("```", start + 10)]
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert isinstance(ns["res"], toyscale.Results)


def test_help_shows_the_documented_api():
    out = subprocess.run([sys.executable, "-c", "import toyscale; help(toyscale.run)"], capture_output=True, text=True,
                         env={"PAGER": "cat", "PATH": "/usr/bin:/bin"}, check=True).stdout
    assert "Run (or resume) an experiment" in out and "Results" in out
    assert set(toyscale.__all__) >= {"run", "load", "Results", "fit", "list_models", "UserError"}


def test_schedule_balances_chunks_and_slices_parts():
    exp = experiment_from_dict({"model": "_joint", "seeds": 7, "sweep": {"scale": [1.0, 2.0, 3.0, 4.0, 5.0]}})
    p = plan(exp)
    # 35 cells, at most 16 per chunk -> 3 chunks of 11-12 cells, all padded to 12 (not 16, 16, 3)
    object.__setattr__(p.model, "cell_bytes", lambda s, n: 2**20)
    try:
        chunks = schedule(p, set(), memory_mb=16)
    finally:
        object.__setattr__(p.model, "cell_bytes", None)
    assert [len(c.cells) for c in chunks] in ([12, 12, 11], [12, 11, 12], [11, 12, 12]) and {c.size for c in chunks} == {12}
    parts = [schedule(p, set(), 1024, part=(i, 3)) for i in range(3)]
    cells = [id(c) for part in parts for ch in part for c in ch.cells]
    assert len(cells) == len(set(cells)) == 35
    # resuming one missing cell computes one cell, not a padded chunk
    done = {h for h, r in zip(p.hashes, p.rows) if not (r["scale"] == 3.0 and r["seed"] == 4)}
    (one,) = schedule(p, done, 1024)
    assert len(one.cells) == 1 and one.size == 1


def test_program_cache_is_keyed_by_model_object(tmp_path):
    def make(k):
        return Model(name="_cache", summary="cache test", params=(Param("c", float, 1.0, "c"),),
                     metrics=(Metric("y", "y"),), evaluate=lambda s, n, d, key: {"y": d["c"] * k},
                     theory=Theory(predict=lambda axis, s: Prediction("none", None)), precision="float64")

    for k, out in ((1.0, "a"), (2.0, "b")):
        register(make(k))
        run_experiment(experiment_from_dict({"model": "_cache", "sweep": {"c": [1.0, 3.0]}}), tmp_path / out, progress=False)
    ya = ResultStore(tmp_path / "a").load().sort_values("c").y.tolist()
    yb = ResultStore(tmp_path / "b").load().sort_values("c").y.tolist()
    assert ya == [1.0, 3.0] and yb == [2.0, 6.0]  # not the first model's cached program


@pytest.mark.slow
def test_report_does_not_switch_the_matplotlib_backend(tmp_path):
    code = ("import matplotlib; matplotlib.use('svg'); import toyscale; "
            f"toyscale.run({str(ROOT / 'experiments/quickstart.toml')!r}, out={str(tmp_path / 'q')!r}, quick=True, progress=False); "
            "assert matplotlib.get_backend().lower() == 'svg', matplotlib.get_backend()")
    subprocess.run([sys.executable, "-c", code], check=True)


def _err(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("toyscale: ") and "Traceback" not in err[0], err
    return err[0]


def test_report_on_a_file_exits_2(tmp_path, capsys):
    f = tmp_path / "x.toml"
    f.write_text("x = 1\n")
    assert main(["report", str(f)]) == 2
    assert "is a file" in _err(capsys)


def test_fit_range_without_swept_values_exits_2(tmp_path, capsys):
    text = (ROOT / "experiments/quickstart.toml").read_text().replace("fit_range = [16, 256]", "fit_range = [1000, 2000]", 1)
    (tmp_path / "e.toml").write_text(text)
    assert main(["run", str(tmp_path / "e.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "checks[0].fit_range" in _err(capsys) and not (tmp_path / "o").exists()


def test_quick_without_quick_table_exits_2(tmp_path, capsys):
    text = (ROOT / "experiments/quickstart.toml").read_text()
    (tmp_path / "e.toml").write_text(text[:text.index("[quick]")])
    assert main(["run", str(tmp_path / "e.toml"), "--quick", "--out", str(tmp_path / "o")]) == 2
    assert "quick" in _err(capsys) and not (tmp_path / "o").exists()


def test_one_seed_report_says_point_bootstrap(tmp_path):
    assert main(["run", str(ROOT / "experiments/quickstart.toml"), "--quick", "--set", "seeds=1",
                 "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    md = (tmp_path / "o" / "report.md").read_text()
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())["checks"]
    assert {e["bootstrap"] for e in summary} == {"points"}
    assert "seed bootstrap" not in md and "bootstrap over axis values" in md


def test_figure_titles_name_the_slice_and_minor_labels_are_off(tmp_path):
    res = toyscale.run(ROOT / "experiments/quickstart.toml", out=tmp_path / "q", quick=True, progress=False)
    fig = res.plot("width")
    ax = fig.axes[0]
    assert "samples=inf" in ax.get_title()
    from matplotlib.ticker import NullFormatter

    assert isinstance(ax.xaxis.get_minor_formatter(), NullFormatter)
    assert isinstance(ax.yaxis.get_minor_formatter(), NullFormatter)


def test_width_above_latent_dim_gives_ok_rows_and_a_fit(tmp_path):
    # scaled down: N > v with P < v, min-norm; every row ok, the data check fits
    res = toyscale.run({"model": "random_features", "seeds": 4, "params": {"latent_dim": 256, "ridge": 0.0},
                        "sweep": {"width": [512], "samples": [8, 16, 32, 64]},
                        "checks": [{"axis": "samples", "fit_range": [8, 64]}]}, out=tmp_path / "o", progress=False)
    assert (res.table.status == "ok").all()
    e = res.summary[0]
    assert e["fitted"] is not None and e["n_points"] == 4
