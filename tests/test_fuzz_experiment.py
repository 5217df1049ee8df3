"""Property-based test of experiment-file validation.

Start from small valid experiment files (each registered model's ``example`` plus checks,
phases, quick and run tables), apply hypothesis-drawn mutations (wrong types, non-finite,
negative and huge values, deleted and unknown keys, corrupted axis specs, broken TOML), write
the file and run ``toyscale run FILE --out DIR`` in-process. Every mutation must end in either

* exit 0: a valid (tiny) run, ``DIR/experiment.json`` and at least one chunk written; or
* exit 2: exactly one stderr line ``toyscale: FIELD: message`` naming a field, no traceback,
  and ``DIR`` not created.

Anything else (another exit code, an exception escaping ``main``, a traceback, a partial
output directory) is a validation hole.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import re
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from toyscale.cli import main  # noqa: E402
from toyscale.experiment import TOP_KEYS  # noqa: E402
from toyscale.models import get_model  # noqa: E402


def _base(name: str) -> dict:
    ex = copy.deepcopy(dict(get_model(name).example))
    doc = {"model": name, "seeds": ex.pop("seeds", 1), "description": f"fuzz base {name}", **ex}
    if name == "random_features":
        doc["checks"] = [{"name": "w", "axis": "width", "where": {"samples": math.inf, "ridge": 0.0},
                          "fit_range": [4, 16], "tolerance": 0.2}]
        doc["phases"] = [{"name": "ph", "axis": "width", "over": ["samples", "ridge"], "fit_range": [4, 16],
                          "show": ["loss"]}]
        doc["quick"] = {"seeds": 1, "sweep": {"ridge": [0.0]}}
    else:
        doc["sweep"] = {**doc.get("sweep", {}), "width": [4, 8, 16]}
        doc["checks"] = [{"axis": "width", "where": {"weight_decay": -1.0}, "metric": "loss"}]
        doc["quick"] = {"seeds": 1, "params": {"steps": 20}}
    doc["run"] = {"memory_mb": 64}
    return doc


BASES = {name: _base(name) for name in ("random_features", "superposition")}

# ----------------------------------------------------------------------------- TOML writer

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k) -> str:
    return k if _BARE.match(k) else json.dumps(k)


def _val(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_val(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def to_toml(doc: dict) -> str:
    """Scalars first, tables as ``[name]`` sections, arrays of tables as ``[[name]]``."""
    lines = [f"{_key(k)} = {_val(v)}" for k, v in doc.items()
             if not isinstance(v, dict) and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"\n[{_key(k)}]")
            lines += [f"{_key(kk)} = {_val(x)}" for kk, x in v.items()]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for x in v:
                lines.append(f"\n[[{_key(k)}]]")
                lines += [f"{_key(kk)} = {_val(y)}" for kk, y in x.items()]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- mutations

BAD_VALUES = [math.nan, math.inf, -math.inf, -1, -0.5, 0, 0.0, 1.5, 2**31, 2**63 - 1, 1e300, -1e300,
              "", "x", "inf", True, False, [], [1, "a"], [[1]], {}, {"a": 1}, {"geom": [1, 2]}]
GOOD_VALUES = [1, 2, 3, 0.5, 1e-3, "float32", "float64", "superposition", "random_features", "power",
               "isotropic", "uniform01", "loss", "width", [4, 8, 16], ["samples", "ridge"], [4, 16]]
values = st.sampled_from(BAD_VALUES + GOOD_VALUES)
NEW_KEYS = ["bogus", "seed", "alpha", "noise", "lr", "num", "geom", "lin", "where", "axis", "over", "show",
            "fit_range", "metric", "tolerance", "name", "memory_mb", "checks", "params", "sweep", "seeds",
            "quick", "run", "precision", "Alpha", "with space"]
axis_numbers = st.sampled_from([math.nan, math.inf, -math.inf, -4, 0, 0.0, 1, 2, 4, 4.5, 16, 1e300, 2**31, "4"])
axis_specs = st.one_of(
    st.fixed_dictionaries({"geom": st.lists(axis_numbers, min_size=0, max_size=3),
                           "num": st.sampled_from([-1, 0, 1, 2, 3, 2.5, True, "3", 10**12, math.nan])}),
    st.fixed_dictionaries({"lin": st.lists(axis_numbers, min_size=2, max_size=2),
                           "num": st.sampled_from([0, 1, 3, 10**9])}),
    st.dictionaries(st.sampled_from(["geom", "lin", "num", "step"]), st.sampled_from([[1, 4], 3, [], "a"]), max_size=3),
    st.lists(axis_numbers, min_size=0, max_size=4),
    values,
)


def _paths(node, prefix=()):
    """Every (path, node) below ``node``: dict keys and list indices."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((prefix + (k,), v))
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((prefix + (i,), v))
            out += _paths(v, prefix + (i,))
    return out


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _perturb(v):
    """Plausible same-type neighbours of a valid value (often still valid: the run must then work)."""
    if isinstance(v, bool):
        return st.just(not v)
    if isinstance(v, int):
        return st.sampled_from([0, 1, 2, 3, v + 1, max(v - 1, 0), 2 * v, -v, 2**31 - 1, 2**31])
    if isinstance(v, float):
        return st.sampled_from([0.0, 0.5, 1.0, 2.0, -v, v * 2, 1e-300, math.nan, math.inf, -math.inf])
    if isinstance(v, str):
        return st.sampled_from(["", v.upper(), v + "x", "loss", "width", "samples", "ridge", "float32"])
    if isinstance(v, list):
        return st.one_of(st.just(v[:1]), st.just(v[:-1]), st.just(v + v[-1:]), st.just(v[::-1]), st.just([]))
    return values


_DROP = object()
#: Edits that keep a base document valid (so a good share of examples are real runs).
BENIGN = {
    "random_features": [
        ("seeds", 1), ("seeds", [0, 7]), ("precision", "float32"), ("description", ""), ("checks", _DROP),
        ("phases", _DROP), ("run", _DROP), ("params.alpha", 0.5), ("params.noise", 0.1), ("params.teacher", "isotropic"),
        ("sweep.width", {"geom": [4, 16], "num": 3}), ("sweep.ridge", {"lin": [0.0, 1e-3], "num": 2}),
        ("checks.0.tolerance", 0.5), ("checks.0.name", "w-2.x"), ("checks.0.fit_range", [1, 100]),
        ("checks.0.metric", "excess"), ("phases.0.show", []), ("run.memory_mb", 0.001), ("quick.seeds", [5])],
    "superposition": [
        ("seeds", 1), ("precision", "float64"), ("checks", _DROP), ("run", _DROP), ("params.alpha", 0.5),
        ("params.lr", 0.05), ("params.importance", 0.9), ("params.value_dist", "uniform01"), ("params.warmup", 0),
        ("sweep.width", {"geom": [4, 16], "num": 3}), ("sweep.weight_decay", [-1.0]),
        ("checks.0.metric", "represented_fraction"), ("checks.0.fit_range", [4, 16]), ("quick.params.steps", 8)],
}


def _set(doc, dotted, v):
    *head, last = dotted.split(".")
    node = doc
    for k in head:
        node = node[int(k)] if isinstance(node, list) else node.get(k)
        if node is None:
            return
    if v is _DROP:
        node.pop(last, None)
    else:
        node[last] = copy.deepcopy(v)


@st.composite
def mutated(draw):
    """(toml text, quick flag, unknown top-level keys added) for one mutated base document."""
    model = draw(st.sampled_from(sorted(BASES)))
    doc = copy.deepcopy(BASES[model])
    for dotted, v in draw(st.lists(st.sampled_from(BENIGN[model]), max_size=3)):
        _set(doc, dotted, v)
    added_top = set()
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        kind = draw(st.sampled_from(["perturb", "perturb", "perturb", "replace", "replace", "delete", "add",
                                     "axis", "axis", "top"]))
        paths = [p for p, _ in _paths(doc) if p != ("model",)]
        if kind in ("replace", "perturb") and paths:
            path = draw(st.sampled_from(paths))
            node = _get(doc, path[:-1])
            node[path[-1]] = draw(_perturb(node[path[-1]]) if kind == "perturb" else values)
        elif kind == "delete":
            keyed = [p for p in paths if isinstance(_get(doc, p[:-1]), dict)]
            if keyed:
                path = draw(st.sampled_from(keyed))
                del _get(doc, path[:-1])[path[-1]]
        elif kind == "add":
            tables = [()] + [p for p, v in _paths(doc) if isinstance(v, dict)]
            path = draw(st.sampled_from(tables))
            k = draw(st.sampled_from(NEW_KEYS))
            if path == () and k not in doc:
                added_top.add(k)
            _get(doc, path)[k] = draw(values)
        elif kind == "axis":
            sweeps = [p for p, v in _paths(doc) if p[-1] == "sweep" and isinstance(v, dict)]
            if sweeps:
                sw = _get(doc, draw(st.sampled_from(sweeps)))
                axes = sorted(sw) + ["alpha", "width", "lr", "bogus"]
                sw[draw(st.sampled_from(axes))] = draw(axis_specs)
        elif kind == "top":
            k = draw(st.sampled_from(["model", "seeds", "seeds", "precision", "precision", "description"]))
            doc[k] = draw(values)
    text = to_toml(doc)
    if draw(st.integers(0, 14)) == 0:  # syntactically broken TOML
        how = draw(st.sampled_from(["truncate", "insert", "duplicate"]))
        pos = draw(st.integers(0, len(text)))
        if how == "truncate":
            text = text[:pos]
        elif how == "insert":
            text = text[:pos] + draw(st.sampled_from(["=", "[", "]", "{", "\"", "\n[", "= =", "\n[[checks]\n"])) + text[pos:]
        else:
            first = text.splitlines()[0]
            text = first + "\n" + text  # duplicate key
    return text, draw(st.booleans()), added_top


FIELD = re.compile(r"^toyscale: (\S+?): \S")


def check_run(text: str, quick: bool, added_top=()):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.toml"
        path.write_text(text)
        out = Path(tmp) / "out"
        err, stdout = io.StringIO(), io.StringIO()
        argv = ["run", str(path), "--out", str(out), "--no-progress"] + (["--quick"] if quick else [])
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
            code = main(argv)
        err = err.getvalue()
        ctx = f"\n--- file ---\n{text}\n--- stderr ---\n{err}"
        assert "Traceback" not in err, ctx
        assert code in (0, 2), f"exit {code}{ctx}"
        if code == 0:
            assert (out / "experiment.json").exists(), ctx
            assert list((out / "chunks").glob("*.parquet")), ctx
            return code, None
        lines = err.strip().splitlines()
        assert len(lines) == 1, ctx
        m = FIELD.match(lines[0])
        assert m, ctx
        field = m.group(1)
        root = re.split(r"[.\[]", field)[0]
        assert root in TOP_KEYS or field == str(path) or root in added_top, f"field {field!r} names nothing{ctx}"
        assert not out.exists(), f"exit 2 left {out}{ctx}"
        return code, field


def _case(model, flag=False, **changes):
    doc = copy.deepcopy(BASES[model])
    for dotted, v in changes.items():
        *head, last = dotted.split("__")
        node = doc
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if v is _DELETE:
            del node[last]
        else:
            node[last] = v
    return to_toml(doc), flag, set()


_DELETE = object()


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
@example(_case("random_features"))
@example(_case("superposition"))
@example(_case("random_features", True))
@example(_case("random_features", sweep__width={"geom": [4, 16], "num": 10**12}))
@example(_case("random_features", seeds=2**63 - 1))
@example(_case("random_features", seeds=[2**40]))
@example(_case("random_features", run={"memory_mb": math.inf}))
@example(_case("random_features", run={"memory_mb": math.nan}))
@example(_case("random_features", checks__0__axis=["width"]))
@example(_case("random_features", phases__0__over=[["samples"], "ridge"]))
@example(_case("random_features", checks__0__fit_range=[4, 8]))
@example(_case("random_features", checks__0__tolerance=math.inf))
@example(_case("random_features", quick="yes"))
@example(_case("superposition", True, quick=_DELETE))
@example(_case("superposition", params__steps=2**40))
@example(_case("random_features", description=["not", "a", "string"]))
@example(("model = 'random_features'\nseeds = = 2\n", False, set()))
def test_mutated_experiment_runs_or_exits_2_naming_a_field(case):
    text, quick, added_top = case
    code, field = check_run(text, quick, added_top)
    event(f"exit {code}" + (f" {re.sub(r'[0-9]+', 'N', field)}" if field and not field.endswith(".toml") else ""))
