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
