"""`toyscale compare`: a float32 and a float64 run of one experiment side by side."""

import json
from pathlib import Path

import numpy as np
import pytest

from toyscale.cli import main
from toyscale.compare import compare, compare_checks, text
from toyscale.errors import UserError
from toyscale.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "experiments" / "quickstart.toml")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("compare")
    out = {}
    for prec in ("float64", "float32"):
        out[prec] = base / prec
        assert main(["run", QUICK, "--quick", "--no-progress", "--set", f'precision="{prec}"', "--out",
                     str(out[prec])]) == 0
    return out["float64"], out["float32"]


def test_float32_against_float64_shows_moved_exponents_and_differing_rows(pair, capsys):
    a, b = pair
    res = compare(a, b)
    assert res.experiments == {"precision": ("float64", "float32")}
    assert [c["name"] for c in res.checks] == ["width", "samples"]
    ra, rb = ResultStore(a).load().set_index("config_hash"), ResultStore(b).load().set_index("config_hash")
    for c in res.checks:
        assert c["fitted_a"] is not None and c["fitted_b"] is not None
        assert c["diff"] == c["fitted_b"] - c["fitted_a"] != 0  # the exponent moved
        assert c["exceeds"] in (True, False)
    assert res.shared == 432 and res.only_a == res.only_b == 0
    # the per-metric maximum is the numpy one on the shared finite rows
    loss = next(m for m in res.metrics if m["metric"] == "loss")
    x, y = ra["loss"].to_numpy(float), rb.loc[ra.index, "loss"].to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    same = x == y  # equal values (zeros included) differ by nothing
    ref = np.max(np.abs(y[~same] - x[~same]) / np.maximum(np.abs(x[~same]), np.abs(y[~same])))
    assert loss["max_rel_diff"] == pytest.approx(ref, rel=1e-12) and loss["max_rel_diff"] > 1e-7
    assert loss["shared"] == ok.sum() == 432 - loss["null_mismatch"]
    assert res.rows and res.rows[0]["rel_diff"] == pytest.approx(max(m["max_rel_diff"] or 0 for m in res.metrics))
    assert set(res.rows[0]) >= {"width", "samples", "seed", "metric", "a", "b"}
    # the CLI prints both tables
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "| width | samples=inf |" in out and "max relative difference" in out and "precision" in out
    assert main(["compare", str(a), str(b), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shared"] == 432


def test_a_directory_against_itself_differs_nowhere(pair):
    a, _ = pair
    res = compare(a, a)
    assert all(c["diff"] == 0 and c["exceeds"] is False for c in res.checks)
    assert all(m["max_rel_diff"] == 0 and m["n_beyond_rtol"] == 0 for m in res.metrics if m["shared"])
    assert res.rows == [] and res.status_changes == {} and "0 only in A" in text(res)


def test_exceeds_uses_the_combined_half_widths():
    a = [{"name": "w", "slice": "", "theory": -1.0, "fitted": -1.0, "ci_low": -1.3, "ci_high": -0.7}]
    near = [{"name": "w", "slice": "", "theory": -1.0, "fitted": -1.4, "ci_low": -1.8, "ci_high": -1.0}]
    far = [{"name": "w", "slice": "", "theory": -1.0, "fitted": -1.6, "ci_low": -1.8, "ci_high": -1.4}]
    # half-widths 0.3 and 0.4: combined 0.5; 0.4 apart does not exceed, 0.6 apart does
    assert compare_checks(a, near)[0]["exceeds"] is False and compare_checks(a, near)[0]["outside"] is True
    assert compare_checks(a, far)[0]["exceeds"] is True
    only = compare_checks(a, [])[0]
    assert only["only"] == "a" and only["diff"] is None and only["exceeds"] is None


def test_not_a_results_directory_is_a_user_error(tmp_path, pair):
    with pytest.raises(UserError, match="experiment.json missing"):
        compare(pair[0], tmp_path)
    assert main(["compare", str(pair[0]), str(tmp_path)]) == 2
