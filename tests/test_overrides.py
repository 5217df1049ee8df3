"""`--set` overrides: dotted keys, entries of arrays of tables, and error texts that always name
what is allowed."""

import re
from pathlib import Path

import pytest

from toyscale.errors import UserError
from toyscale.experiment import experiment_from_doc, load_experiment

QUICKSTART = Path(__file__).resolve().parents[1] / "experiments" / "quickstart.toml"


def test_set_reaches_a_check_field_by_index():
    base = load_experiment(QUICKSTART, quick=True)
    exp = load_experiment(QUICKSTART, quick=True, overrides=["checks[0].tolerance=0.2"])
    assert exp.checks[0].tolerance == 0.2
    assert exp.checks[1].tolerance == base.checks[1].tolerance  # only the named entry changes
    same = load_experiment(QUICKSTART, quick=True, overrides=["checks.1.fit_range=[24, 192]"])
    assert tuple(same.checks[1].fit_range) == (24, 192) and tuple(same.checks[0].fit_range) == (16, 256)


def test_set_does_not_mutate_the_parsed_document():
    doc = {"model": "random_features", "seeds": 2, "params": {"latent_dim": 64},
           "sweep": {"width": [4, 8, 16]}, "checks": [{"name": "w", "axis": "width"}]}
    experiment_from_doc(doc, overrides=["checks[0].tolerance=0.3", "params.alpha=1.5"])
    assert doc["checks"][0] == {"name": "w", "axis": "width"} and doc["params"] == {"latent_dim": 64}


@pytest.mark.parametrize("override, needle", [
    ("checks[5].tolerance=0.2", "allowed: indices 0..1"),
    ("phases[0].axis=width", "phases is missing"),
    ("params[0].alpha=1", "params is not an array of tables"),
    ("checks[0]=1", "ends in an index"),
    ("checks[x].tolerance=1", "malformed key"),
    ("params..alpha=1", "malformed key"),
])
def test_bad_indexed_keys_fail_with_one_line(override, needle):
    with pytest.raises(UserError) as e:
        load_experiment(QUICKSTART, quick=True, overrides=[override])
    assert needle in str(e.value) and "\n" not in str(e.value) and str(e.value).startswith("--set:")


def test_where_on_an_unswept_name_never_prints_an_empty_allowed_list():
    doc = {"model": "random_features", "seeds": 2, "params": {"latent_dim": 64},
           "sweep": {"width": [4, 8, 16]}, "checks": [{"name": "w", "axis": "width", "where": {"ridg": 0.0}}]}
    with pytest.raises(UserError) as e:
        experiment_from_doc(doc)
    msg = str(e.value)
    assert msg.startswith("checks[0].where.ridg:") or "where.ridg" in msg
    assert not re.search(r"allowed:\s*($|;)", msg)
    assert "allowed: none" in msg
