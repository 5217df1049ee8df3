"""`toyscale fit` as a user runs it: identified half-range fits, parameter intervals, no
warnings, documented defaults, scoped 64-bit mode, one-line user errors."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toyscale import fit as F
from toyscale.cli import main

ROOT = Path(__file__).parent.parent
TRUTH = {"E": 0.1, "A": 2.0, "s": 0.7}  # y = E + A x^-s


def _offset_curve(n, noise, seed, s=TRUTH["s"], E=TRUTH["E"], A=TRUTH["A"]):
    rng = np.random.default_rng(seed)
    x = np.geomspace(8, 1024, n)
    return x, (E + A * x**-s) * np.exp(noise * rng.standard_normal(n))


def _csv(tmp_path, x, y, name="t.csv", **cols):
    p = tmp_path / name
    pd.DataFrame({"width": x, "loss": y, **cols}).to_csv(p, index=False)
    return str(p)


def _fit_json(capsys, *argv):
    assert main(["fit", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# --- 1. range sensitivity of the offset law ------------------------------------------------

@pytest.mark.parametrize("n", [8, 10, 12])
def test_offset_law_halves_are_sane_on_synthetic_truth(n):
    # 0.3 % multiplicative noise, 5 seeds each: both halves identified, near the true exponent,
    # and a curve that *is* the offset law is not flagged (threshold 0.1).
    for seed in range(5):
        r = F.range_sensitivity(*_offset_curve(n, 0.003, seed), law="offset")
        assert r["slope_lower"] is not None and r["slope_upper"] is not None, (n, seed, r.get("range_note"))
        # tolerance: half fits on 5-7 points at 0.3 % noise; the observed spread is < 0.05
        assert abs(r["slope_lower"] + TRUTH["s"]) < 0.05 and abs(r["slope_upper"] + TRUTH["s"]) < 0.05, (n, seed, r)
        assert r["slope_lower_se"] > 0 and r["slope_upper_se"] > 0
        assert r["range_sensitive"] is False, (n, seed, r)


def test_unidentified_half_is_not_determined_not_flagged(tmp_path, capsys):
    # A steep law (s = 1.5) whose upper half is a plateau to within the 1 % noise: before the fix
    # the upper-half exponent landed on the search bound (-6) and the fit was flagged.
    x, y = _offset_curve(8, 0.01, 0, s=1.5)
    r = F.range_sensitivity(x, y, law="offset")
    assert r["slope_upper"] is None and r["range_sensitive"] is None
    assert "upper half not determined" in r["range_note"]
    path = _csv(tmp_path, x, y)
    assert main(["fit", path, "--x", "width", "--y", "loss", "--law", "offset", "--boot", "50"]) == 0
    text = capsys.readouterr().out
    assert "not determined" in text and "RANGE-SENSITIVE" not in text and "-6.0" not in text
    out = _fit_json(capsys, path, "--x", "width", "--law", "offset", "--boot", "50")
    assert out["slope_upper"] is None and out["range_sensitive"] is None


def test_too_few_points_per_half_is_not_determined():
    # 7 points: the lower half has 4 points for the 3-parameter law (fewer than 3 + 2)
    r = F.range_sensitivity(*_offset_curve(7, 0.0, 0), law="offset")
    assert r["slope_lower"] is None and r["range_sensitive"] is None
    assert "lower half not determined: 4 points for a 3-parameter law" in r["range_note"]
    assert abs(r["slope_upper"] + TRUTH["s"]) < 1e-4  # noise-free upper half (5 points): exact law
    # the power law (2 parameters) is determined on the same 7 points
    assert F.range_sensitivity(*_offset_curve(7, 0.0, 0, E=0.0), law="power")["range_sensitive"] is False


@pytest.mark.parametrize("noise", [0.0, 0.003])
def test_broken_law_is_still_flagged_by_the_offset_fit(noise):
    # slope -0.3 steepening to -1.0 at x = 128: an offset law (which only flattens) cannot
    # describe both halves with one exponent
    x = np.geomspace(8, 4096, 10)
    y = F.broken_power_law(x, 0.0, 2.0, 0.3, ((128.0, 0.7, 0.2),)) * np.exp(noise * np.random.default_rng(0).standard_normal(10))
    r = F.range_sensitivity(x, y, law="offset")
    assert r["slope_lower"] is not None and r["slope_upper"] is not None
    assert r["range_sensitive"] is True
    assert r["slope_upper"] - r["slope_lower"] < -0.3  # steeper at large x


# --- 2. intervals for every parameter ------------------------------------------------------

def test_offset_and_power_report_intervals_for_every_parameter(tmp_path, capsys):
    x = np.geomspace(8, 1024, 10)
    rng = np.random.default_rng(5)
    rows = [{"width": w, "seed": s, "loss": (TRUTH["E"] + TRUTH["A"] * w ** -TRUTH["s"]) * np.exp(0.01 * rng.standard_normal())}
            for w in x for s in range(6)]
    path = tmp_path / "seeds.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    for law, names in (("offset", ("A", "E")), ("power", ("A",))):
        args = [str(path), "--x", "width", "--law", law, "--seed-col", "seed", "--boot", "200"]
        out = _fit_json(capsys, *args)
        assert set(out["params_ci"]) == set(names)
        for k in names:
            lo, hi = out["params_ci"][k]
            assert 0 <= lo < out["params"][k] < hi, (law, k, lo, hi)
        assert main(["fit", *args]) == 0
        text = capsys.readouterr().out
        for k in names:
            assert any(line.strip().startswith(f"{k} = ") and "95% CI [" in line for line in text.splitlines()), text
    # the offset intervals are about the truth, not only about the estimate (1 % noise, 6 seeds):
    # one data set, so allow the truth up to one interval width outside (coverage is tested below)
    out = _fit_json(capsys, str(path), "--x", "width", "--law", "offset", "--seed-col", "seed", "--boot", "200")
    for k in ("A", "E"):
        lo, hi = out["params_ci"][k]
        assert lo - (hi - lo) <= TRUTH[k] <= hi + (hi - lo), (k, lo, hi)


def test_parameter_interval_coverage_power_law():
    # 40 replicates of A's interval with 8 seeds: if the true coverage is 0.95,
    # P(fraction < 0.80) = P(Bin(40, .95) <= 31) < 1e-3
    rng = np.random.default_rng(11)
    x = np.geomspace(8, 1024, 10)
    hits = 0
    for _ in range(40):
        Y = 2.0 * x[:, None] ** -0.8 * np.exp(0.05 * rng.standard_normal((len(x), 8)))
        f = F.fit_scaling(x, Y, n_boot=200, seed=int(rng.integers(1 << 30)))
        hits += f.params_ci["A"][0] <= 2.0 <= f.params_ci["A"][1]
    assert hits / 40 >= 0.80


def test_boot_zero_means_no_bootstrap(tmp_path, capsys):
    out = _fit_json(capsys, _csv(tmp_path, *_offset_curve(10, 0.003, 0)), "--x", "width", "--boot", "0")
    assert out["n_boot"] == 0 and out["ci"] == [None, None]  # strict JSON: no NaN


# --- 3. no warnings ------------------------------------------------------------------------

@pytest.mark.parametrize("law", ["power", "offset"])
def test_no_warnings_on_a_long_table_with_repeated_x(tmp_path, capsys, law):
    # 8 widths x 3 seeds as rows, no --seed-col: windows of three rows at one width used to
    # go to np.polyfit (RankWarning x 8)
    x = np.geomspace(8, 1024, 8)
    rng = np.random.default_rng(2)
    rows = [{"width": w, "seed": s, "loss": (0.1 + 2 * w**-0.7) * np.exp(0.01 * rng.standard_normal())}
            for w in x for s in range(3)]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for extra in ([], ["--seed-col", "seed"]):
            assert main(["fit", str(path), "--x", "width", "--y", "loss", "--law", law, "--boot", "200", *extra]) == 0
    out = capsys.readouterr().out
    assert "at 8 x values" in out
    # held-out x is held out entirely (all three rows at the largest width), on the per-x mean
    out = _fit_json(capsys, str(path), "--x", "width", "--law", law, "--boot", "20")
    assert out["heldout_x"] == [x[-1]] and len(out["local_slopes"]) == 8 - 2


# --- 4. --help shows defaults --------------------------------------------------------------

def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        main(["fit", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo line wrapping
    for default in ("(default: power)", "(default: loss)", "(default: vp)", "(default: 0)", "(default: 1)",
                    "(default: 1000 for power/offset, 200 for joint; 0: none)"):
        assert default in text, default
    assert "toyscale fit toyscale/data/chinchilla_svg_extracted.csv" in text  # raw epilog kept


# --- 5. 64-bit mode stays scoped -----------------------------------------------------------

def test_batched_huber_does_not_switch_x64_on_globally(tmp_path):
    # Run in a subprocess: tests/conftest.py switches x64 on for this process.
    truth = dict(E=1.7, A=400.0, B=1500.0, a=0.34, b=0.28)
    N = np.repeat(np.geomspace(1e7, 1e10, 6), 5)
    D = np.tile(np.geomspace(1e9, 1e12, 5), 6)
    L = truth["E"] + truth["A"] * N ** -truth["a"] + truth["B"] * D ** -truth["b"]
    path = tmp_path / "joint.csv"
    pd.DataFrame({"N": N, "D": D, "loss": L}).to_csv(path, index=False)
    script = (
        "import json, io, contextlib, jax\n"
        "before = bool(jax.config.jax_enable_x64)\n"
        "from toyscale.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        f"    rc = main(['fit', {str(path)!r}, '--law', 'joint', '--n', 'N', '--d', 'D', '--method', 'huber',"
        " '--batched', '--json'])\n"
        "print(json.dumps({'rc': rc, 'before': before, 'after': bool(jax.config.jax_enable_x64),"
        " 'fit': json.loads(buf.getvalue())}))\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["rc"] == 0 and got["before"] is False and got["after"] is False
    # and the answer is the one this process (x64 on globally) gets
    ref = F.fit_joint(N, D, L, method="huber", batched=True).as_dict()
    for k, v in ref.items():
        assert abs(got["fit"]["params"][k] / v - 1) < 1e-6, (k, got["fit"]["params"], ref)


# --- 6. one-line user errors ---------------------------------------------------------------

def _bad_inputs(tmp):
    x = np.geomspace(8, 1024, 10)
    good = _csv(tmp, x, 2 * x**-0.5)
    neg = _csv(tmp, x, np.r_[2 * x[:-1] ** -0.5, 0.0], name="neg.csv")
    two = _csv(tmp, np.repeat([8.0, 16.0], 3), np.linspace(1, 0.5, 6), name="two.csv")
    text = _csv(tmp, x, 2 * x**-0.5, name="text.csv", tag=["a"] * 10)
    return [
        (["fit", str(tmp / "missing.csv"), "--x", "width"], "FILE"),
        (["fit", good, "--x", "depth"], "--x"),
        (["fit", good, "--x", "width", "--y", "acc"], "--y"),
        (["fit", good, "--x", "tag"], "--x"),
        (["fit", text, "--x", "tag"], "--x"),
        (["fit", neg, "--x", "width"], "--y"),
        (["fit", good, "--x", "width", "--law", "cubic"], "--law"),
        (["fit", good, "--x", "width", "--boot", "-5"], "--boot"),
        (["fit", good, "--x", "width", "--boot", "many"], "--boot"),
        (["fit", good, "--x", "width", "--law", "broken", "--breaks", "0"], "--breaks"),
        (["fit", good, "--x", "width", "--law", "broken", "--breaks", "3"], "--x"),
        (["fit", good, "--x", "width", "--drop-highest", "8"], "--drop-highest"),
        (["fit", good, "--x", "width", "--drop-highest", "-1"], "--drop-highest"),
        (["fit", two, "--x", "width"], "--x"),
        (["fit", good, "--x", "width", "--law", "joint", "--n", "width"], "--d"),
        (["fit", good, "--law", "joint", "--n", "width", "--d", "width", "--method", "adam"], "--method"),
    ]


@pytest.mark.parametrize("case", range(16))
def test_bad_input_is_one_line_status_2(tmp_path, capsys, case):
    cases = _bad_inputs(tmp_path)
    assert len(cases) == 16
    argv, flag = cases[case]
    assert main(argv) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith(f"toyscale: {flag}: ") and "; allowed: " in lines[0], lines[0]
    assert "Traceback" not in cap.err and cap.out == ""


@pytest.mark.parametrize("argv", [["fit"], ["fit", "x.csv", "--bogus"]])
def test_argparse_errors_are_one_line_too(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toyscale: fit: ") and "; allowed: " in lines[0]


# --- 7. named output of the broken law and default joint intervals --------------------------

def test_broken_law_prints_named_parameters(tmp_path, capsys):
    x = np.geomspace(4, 4096, 30)
    path = _csv(tmp_path, x, F.broken_power_law(x, 0.0, 2.0, 0.3, ((100.0, 0.7, 0.3),)))
    out = _fit_json(capsys, path, "--x", "width", "--law", "broken")
    (br,) = out["breaks"]
    assert br["position"] == pytest.approx(100.0, rel=1e-6) and br["smoothness"] == pytest.approx(0.3, rel=1e-6)
    assert br["slope_before"] == pytest.approx(-0.3, abs=1e-6) and br["slope_after"] == pytest.approx(-1.0, abs=1e-6)
    assert br["slope_change"] == pytest.approx(-0.7, abs=1e-6)
    assert br["transition"] == pytest.approx([100 * np.exp(-0.6), 100 * np.exp(0.6)], rel=1e-5)
    assert main(["fit", path, "--x", "width", "--law", "broken"]) == 0
    text = capsys.readouterr().out
    assert "break 1: position d_1 = 100;" in text and "slope -0.3000 -> -1.0000" in text and "smoothness f_1 = 0.3" in text
    assert "breaks = ((" not in text


def test_joint_law_has_intervals_by_default(tmp_path, capsys):
    rng = np.random.default_rng(4)
    N = np.repeat(np.geomspace(1e7, 1e10, 6), 5)
    D = np.tile(np.geomspace(1e9, 1e12, 5), 6)
    L = (1.7 + 400.0 * N**-0.34 + 1500.0 * D**-0.28) * np.exp(0.01 * rng.standard_normal(len(N)))
    path = tmp_path / "joint.csv"
    pd.DataFrame({"N": N, "D": D, "loss": L}).to_csv(path, index=False)
    out = _fit_json(capsys, str(path), "--law", "joint", "--n", "N", "--d", "D")
    assert out["n_boot"] == 200 and out["interval"] == "t"
    for k in ("E", "A", "B", "a", "b"):
        lo, hi = out["ci"][k]
        assert lo < out["params"][k] < hi
    off = _fit_json(capsys, str(path), "--law", "joint", "--n", "N", "--d", "D", "--boot", "0")
    assert off["n_boot"] == 0 and off["ci"] == {}
