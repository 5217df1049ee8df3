"""`toyscale list MODEL`: the ranges it prints are the ranges the loader accepts, inf included,
and cross-parameter limits are stated next to them."""

import math

import pytest

from toyscale.cli import main
from toyscale.errors import UserError
from toyscale.models import describe, get_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_listed_ranges_are_the_accepted_ranges(name):
    m = get_model(name)
    for p in m.params:
        if p.type is str:
            continue
        text = p.allowed()
        says_inf = text.endswith(", or inf") or text.endswith("inf]")
        try:
            p.coerce(math.inf, "x")
            takes_inf = True
        except UserError:
            takes_inf = False
        assert says_inf == takes_inf, (p.name, text)
        if p.high is not None:
            p.coerce(p.high, "x")
            with pytest.raises(UserError):
                p.coerce(p.high + 1, "x")


def test_associative_memory_listing_shows_inf_and_the_table_limit(capsys):
    assert main(["list", "associative_memory"]) == 0
    out = capsys.readouterr().out
    width = next(line for line in out.splitlines() if line.strip().startswith("width"))
    assert "an integer in [1, 1000000], or inf" in width
    assert "vocab * width <= 1e8" in out
    # the stated limit is the enforced one: 10^4 x 10^4 passes, 10^4 x (10^4 + 1) does not
    m = get_model("associative_memory")
    vals = {p.name: [p.default] for p in m.params}
    m.check_config({**vals, "vocab": [10**4], "width": [10**4]})
    with pytest.raises(UserError, match="exceed"):
        m.check_config({**vals, "vocab": [10**4], "width": [10**4 + 1]})


def test_ticket_ensemble_width_bound_is_the_enforced_one():
    m = get_model("ticket_ensemble")
    vals = {p.name: [p.default] for p in m.params}
    top = m.param("width").high
    m.check_config({**vals, "width": [top]})  # the listed maximum is accepted by the model
    with pytest.raises(UserError):
        m.param("width").coerce(top + 1, "sweep.width")


def test_every_model_lists_its_limits_section_when_it_has_cross_checks():
    for name in list_models():
        m = get_model(name)
        text = describe(name)
        assert text.startswith(f"{name}: ")
        if m.limits:
            assert "limits across parameters" in text and all(t in text for t in m.limits)
