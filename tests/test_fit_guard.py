"""The validity guard of a check: a slope fitted through points at the floor (zero error), or over
less than a decade of the axis, is not an exponent -- flagged ``valid = False`` with a reason,
no verdicts, whatever the model."""

import numpy as np
import pandas as pd
import pytest

from toyscale.analysis import evaluate_check
from toyscale.errors import UserError
from toyscale.experiment import experiment_from_dict
from toyscale.models import get_model
from toyscale.report import table

MODEL = get_model("associative_memory")  # trained memories: the theory gives a reference slope -1
WHERE = {"scheme": "learned"}


def _rows(widths, error):
    rng = np.random.default_rng(0)
    return pd.DataFrame([{"width": float(d), "seed": s, "scheme": "learned", "zipf": 2.0, "status": "ok",
                          "error": error(d) * np.exp(0.01 * rng.normal()) if error(d) > 0 else 0.0}
                         for d in widths for s in range(4)])


def _check(**kw):
    return {"name": "d", "axis": "width", "where": WHERE, "tolerance": 0.3, **kw}


def test_zero_error_inside_the_window_invalidates_the_fit():
    # the trained-grid case: error ~ d^-2 up to d = 100, then a wall (every token recalled)
    df = _rows([10, 30, 100, 300, 1000], lambda d: d ** -2.0 if d <= 100 else 0.0)
    e = evaluate_check(df, MODEL, {}, _check(), n_boot=50)
    assert e["fitted"] == pytest.approx(-2.0, abs=0.05)  # the slope is still shown ...
    assert e["valid"] is False and e["agrees"] is None and e["theory_in_ci"] is None  # ... with no verdict
    assert e["dropped"] == [300.0, 1000.0]
    assert any("floor" in r and "300, 1000" in r for r in e["invalid_reasons"]), e["invalid_reasons"]
    assert "invalid fit" in e["reason"]
    row = table([e]).splitlines()
    assert row[0].endswith("| valid fit |") and row[-1].endswith("| NO (see below) |")
    # one seed at zero is enough: a seed-mean over a wall is not on the power law either
    df2 = _rows([10, 30, 100, 300, 1000], lambda d: d ** -1.0)
    df2.loc[(df2.width == 1000) & (df2.seed == 0), "error"] = 0.0
    assert evaluate_check(df2, MODEL, {}, _check(), n_boot=50)["valid"] is False
    # a fit range that stops before the wall and spans a decade is valid again
    e = evaluate_check(df, MODEL, {}, _check(fit_range=(10, 100)), n_boot=50)
    assert e["valid"] is True and e["agrees"] is False and e["invalid_reasons"] == []


def test_a_fit_over_less_than_a_decade_is_invalid():
    df = _rows([8, 16, 32, 64], lambda d: d ** -1.0)
    e = evaluate_check(df, MODEL, {}, _check(), n_boot=50)
    assert e["valid"] is False and e["agrees"] is None
    assert e["span_decades"] == pytest.approx(np.log10(8)) and "0.90 decades" in e["invalid_reasons"][0]
    e = evaluate_check(df, MODEL, {}, _check(min_decades=0.5), n_boot=50)  # the rule is a check option
    assert e["valid"] is True and e["agrees"] is True and isinstance(e["theory_in_ci"], bool)
    e = evaluate_check(_rows([8, 16, 32, 64, 128], lambda d: d ** -1.0), MODEL, {}, _check(), n_boot=50)
    assert e["valid"] is True and e["agrees"] is True and "valid fit" not in table([e])


def test_floor_option_flags_floor_level_points():
    # errors at a resolution floor (here 1e-4, e.g. one token's mass) are not scaling either
    df = _rows([10, 30, 100, 300, 1000], lambda d: max(d ** -1.5, 1e-4))
    assert evaluate_check(df, MODEL, {}, _check(), n_boot=50)["valid"] is True  # default floor 0
    e = evaluate_check(df, MODEL, {}, _check(floor=1.1e-4), n_boot=50)
    assert e["valid"] is False and e["dropped"] == [1000.0] and "<= 0.00011" in e["invalid_reasons"][0]


def test_guard_options_are_validated_in_the_experiment_file():
    doc = {"model": "associative_memory", "seeds": 1, "sweep": {"width": [8, 16, 32, 64]},
           "checks": [{"axis": "width", "min_decades": 0.5, "floor": 1e-6}]}
    (c,) = experiment_from_dict(doc).checks
    assert c.min_decades == 0.5 and c.floor == 1e-6
    assert experiment_from_dict({**doc, "checks": [{"axis": "width"}]}).checks[0].min_decades == 1.0
    for key, bad in (("min_decades", -1), ("floor", "x"), ("min_decades", float("inf"))):
        with pytest.raises(UserError, match=f"checks\\[0\\].{key}"):
            experiment_from_dict({**doc, "checks": [{"axis": "width", key: bad}]})


def test_an_axis_through_zero_is_scored_by_its_curve_and_never_log_fitted():
    # the perceptron's probe angle starts at 0 (a perfect metric): log 0 must not reach the fit,
    # while the theory curve is scored there too
    from toyscale.theory.perceptron import theory_error

    model = get_model("perceptron")
    where = {"keep": "hard", "alpha": 4.0, "keep_fraction": 0.5}
    angles = [0.0, 0.17, 0.3]
    eps = {a: float(theory_error(4.0, "hard", 0.5, a)) for a in angles}
    df = pd.DataFrame([{"probe_angle": a, "seed": s, **where, "dim": 200.0, "status": "ok",
                        "error": eps[a] * (1 + 0.01 * (s - 1.5))} for a in angles for s in range(4)])
    e = evaluate_check(df, model, {"dim": 200.0}, {"name": "theta", "axis": "probe_angle", "where": where},
                       n_boot=20)
    assert 0.0 not in (e["fit_range"] or [])  # the fit saw only the two positive angles ...
    assert e["fitted"] is None and e["agrees"] is None
    assert e["curve_points"] == 3 and e["curve_range"][0] == 0.0  # ... the curve all three
    assert e["curve_rel_error"] < 0.01
