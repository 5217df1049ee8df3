"""Experiment files: axis specs, validation, and the CLI's exit-2 contract for bad input."""

import math
import os
from pathlib import Path

import pytest

from toyscale.cli import main
from toyscale.errors import UserError
from toyscale.experiment import experiment_from_dict, load_experiment

BASE = """
model = "random_features"
seeds = 2
[params]
latent_dim = 256
samples = inf
[sweep]
width = {geom = [8, 64], num = 4}
[[checks]]
axis = "width"
"""


def write(tmp_path, text, name="exp.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_axis_specs_expand_and_round():
    exp = experiment_from_dict({"model": "random_features", "sweep": {
        "width": {"geom": [8, 64], "num": 4}, "ridge": {"lin": [0.0, 1.0], "num": 3}, "samples": [16, 16, "inf"]
        if False else [16, 32, math.inf]}})
    assert exp.sweep["width"] == (8, 16, 32, 64)  # geometric, rounded to integers
    assert exp.sweep["ridge"] == (0.0, 0.5, 1.0)
    assert exp.sweep["samples"] == (16, 32, math.inf)
    assert exp.n_configs == 4 * 3 * 3
    assert exp.params["alpha"] == 1.0  # default filled in


def test_quick_and_overrides(tmp_path):
    p = write(tmp_path, BASE + "[quick]\nseeds = 1\n[quick.sweep]\nwidth = [8, 16, 32]\n")
    exp = load_experiment(p, quick=True, overrides=["params.alpha=0.8", "seeds=[3, 5]"])
    assert exp.sweep["width"] == (8, 16, 32) and exp.params["alpha"] == 0.8 and exp.seeds == (3, 5)


BAD = {
    "unknown model": ('model = "nope"\n', "model", "random_features"),
    "unknown parameter": (BASE.replace("latent_dim = 256", "latent_dim = 256\nalph = 1"), "params.alph", "allowed: alpha"),
    "mistyped parameter": (BASE.replace("latent_dim = 256", 'latent_dim = "big"'), "params.latent_dim", "an integer"),
    "out of range": (BASE.replace("latent_dim = 256", "latent_dim = 256\nalpha = -1"), "params.alpha", "(0, inf)"),
    "bad choice": (BASE.replace("latent_dim = 256", 'latent_dim = 256\nteacher = "gauss"'), "params.teacher", "'power'"),
    "malformed axis": (BASE.replace("{geom = [8, 64], num = 4}", "{geom = [8, 64]}"), "sweep.width", "num = K"),
    "axis values": (BASE.replace("{geom = [8, 64], num = 4}", "[8, -3]"), "sweep.width[1]", "out of range"),
    "check axis": (BASE.replace('axis = "width"', 'axis = "depth"'), "checks[0].axis", "allowed: width"),
    "check statistic": (BASE.replace('axis = "width"', 'axis = "width"\nstatistic = "mode"'), "checks[0].statistic",
                        "allowed: mean, median"),
    "toml syntax": (BASE.replace("seeds = 2", "seeds = = 2"), "exp.toml", "TOML syntax error"),
    "unknown top key": ("foo = 1\n" + BASE, "foo", "allowed top-level keys"),
    "seeds": (BASE.replace("seeds = 2", "seeds = 0"), "seeds", "positive integer"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_raises_user_error_naming_field(tmp_path, case):
    text, field, allowed = BAD[case]
    with pytest.raises(UserError) as e:
        load_experiment(write(tmp_path, text))
    assert e.value.field.endswith(field) and allowed in str(e.value), str(e.value)


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_input_exit_2_one_line_nothing_written(tmp_path, capsys, case):
    text, field, _ = BAD[case]
    out = tmp_path / "out"
    code = main(["run", str(write(tmp_path, text)), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("toyscale: ") and field in err and "Traceback" not in err
    assert not out.exists()


def test_cli_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["run", str(write(tmp_path, BASE)), "--out", str(blocker / "sub"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--out" in err and len(err.splitlines()) == 1
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert main(["run", str(write(tmp_path, BASE)), "--out", str(ro / "x"), "--no-progress"]) == 2


def test_cli_bad_set_and_missing_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert main(["run", str(write(tmp_path, BASE)), "--set", "params.alpha"]) == 2
    assert main(["run", str(write(tmp_path, BASE)), "--set", "params.alpha=x", "--out", str(tmp_path / "o")]) == 2
    assert main(["list", "nope"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_shipped_experiments_validate():
    for p in sorted(Path(__file__).parent.parent.joinpath("experiments").glob("*.toml")):
        load_experiment(p)
        load_experiment(p, quick=True)


# ----------------------------------------------------------------------------- defects a new user hit

def test_quick_without_quick_table_is_an_error(tmp_path, capsys):
    with pytest.raises(UserError) as e:
        load_experiment(write(tmp_path, BASE), quick=True)
    assert e.value.field == "quick" and "no [quick] table" in str(e.value)
    with pytest.raises(UserError) as e:
        experiment_from_dict({"model": "random_features"}, quick=True)
    assert e.value.field == "quick"
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, BASE)), "--quick", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("toyscale: quick: ") and len(err.splitlines()) == 1 and not out.exists()


def test_broken_quick_table_is_an_error_without_quick_too(tmp_path):
    with pytest.raises(UserError) as e:
        load_experiment(write(tmp_path, BASE + "[quick]\nseeds = 0\n"))
    assert e.value.field == "quick.seeds"
    with pytest.raises(UserError) as e:
        load_experiment(write(tmp_path, BASE + "[quick.sweep]\nwidth = [8, 16]\n"))  # check needs 3 widths
    assert e.value.field == "quick" and "checks[0].axis" in str(e.value)


@pytest.mark.parametrize("table", ["checks", "phases"])
def test_fit_range_with_fewer_than_three_swept_values_is_an_error(table):
    doc = {"model": "random_features", "params": {"latent_dim": 64, "samples": math.inf},
           "sweep": {"width": [4, 8, 16, 32], "ridge": [0.0, 1e-3], "noise": [0.0, 0.1]}}
    entry = {"axis": "width", "fit_range": [8, 20]}
    entry.update({"over": ["ridge", "noise"]} if table == "phases" else {"where": {"ridge": 0.0, "noise": 0.0}})
    with pytest.raises(UserError) as e:
        experiment_from_dict({**doc, table: [entry]})
    assert e.value.field == f"{table}[0].fit_range" and "[4, 8, 16, 32]" in str(e.value), str(e.value)
    exp = experiment_from_dict({**doc, table: [dict(entry, fit_range=[8, 32])]})
    assert getattr(exp, table)[0].fit_range == (8.0, 32.0)


def test_check_axis_with_fewer_than_three_finite_values_is_an_error():
    with pytest.raises(UserError) as e:
        experiment_from_dict({"model": "random_features", "params": {"latent_dim": 64},
                              "sweep": {"samples": [8, 16, math.inf]}, "checks": [{"axis": "samples"}]})
    assert e.value.field == "checks[0].axis" and "'inf'" in str(e.value)


BAD_VALUES = {
    "seed count huge": ("seeds = 2", "seeds = 9223372036854775807", "seeds"),
    "seed beyond uint32": ("seeds = 2", "seeds = [4294967296]", "seeds"),
    "axis num huge": ("num = 4}", "num = 1000000000000}", "sweep.width.num"),
    "memory inf": ("[[checks]]", "[run]\nmemory_mb = inf\n[[checks]]", "run.memory_mb"),
    "memory nan": ("[[checks]]", "[run]\nmemory_mb = nan\n[[checks]]", "run.memory_mb"),
    "run unknown key": ("[[checks]]", "[run]\nmemroy_mb = 10\n[[checks]]", "run.memroy_mb"),
    "tolerance inf": ('axis = "width"', 'axis = "width"\ntolerance = inf', "checks[0].tolerance"),
    "axis not a name": ('axis = "width"', 'axis = ["width"]', "checks[0].axis"),
    "description not a string": ("seeds = 2", "seeds = 2\ndescription = [1]", "description"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_more_bad_values_name_their_field(tmp_path, case):
    old, new, field = BAD_VALUES[case]
    assert old in BASE
    with pytest.raises(UserError) as e:
        load_experiment(write(tmp_path, BASE.replace(old, new)))
    assert e.value.field == field, str(e.value)


def test_integer_parameters_are_bounded_by_int32():
    with pytest.raises(UserError) as e:
        experiment_from_dict({"model": "superposition", "params": {"steps": 2**31}})
    assert e.value.field == "params.steps" and "2147483647" in str(e.value)
    with pytest.raises(UserError) as e:
        experiment_from_dict({"model": "random_features", "sweep": {"samples": [8, 2**40]}})
    assert e.value.field == "sweep.samples[1]"


def _default_from_model():
    from toyscale.models import Metric, Model, Prediction, Theory, register
    from toyscale.params import Param

    return register(Model(
        name="_default_from_toy", summary="test model: test_batch defaults to batch",
        params=(Param("batch", int, 32, "training batch", low=1, high=1000),
                Param("test_batch", int, 0, "test batch (default: batch)", low=1, high=100, default_from="batch"),
                Param("lr", float, 0.1, "learning rate", low=0.0)),
        metrics=(Metric("loss", "loss"),),
        evaluate=lambda static, nested, dyn, key: {"loss": dyn["lr"]},
        theory=Theory(predict=lambda axis, s: Prediction("toy", None))))


def test_default_from_takes_the_other_parameters_value():
    _default_from_model()
    m = "_default_from_toy"
    assert experiment_from_dict({"model": m}).params["test_batch"] == 32  # batch's default
    assert experiment_from_dict({"model": m, "params": {"batch": 7}}).params["test_batch"] == 7
    exp = experiment_from_dict({"model": m, "params": {"batch": 7, "test_batch": 3}})
    assert exp.params["test_batch"] == 3
    exp = experiment_from_dict({"model": m, "params": {"batch": 7}, "sweep": {"test_batch": [1, 2]}})
    assert exp.sweep["test_batch"] == (1, 2) and "test_batch" not in exp.params
    assert list(exp.params) == ["batch", "lr"]
    exp = experiment_from_dict({"model": m, "params": {"test_batch": 5}, "sweep": {"batch": [1, 2]}})
    assert exp.params["test_batch"] == 5
    with pytest.raises(UserError) as e:
        experiment_from_dict({"model": m, "sweep": {"batch": [1, 2]}})
    assert e.value.field == "params.test_batch" and str(e.value).endswith("set test_batch explicitly when batch is swept")
    with pytest.raises(UserError) as e:  # the inherited value must fit test_batch's own range
        experiment_from_dict({"model": m, "params": {"batch": 500}})
    assert e.value.field == "params.test_batch" and "out of range" in str(e.value)
