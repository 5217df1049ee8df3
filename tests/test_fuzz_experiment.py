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
from toyscale.models import get_model, list_models  # noqa: E402


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
        doc["quick"] = {"seeds": 1, "sweep": {"weight_decay": [-1.0]}}
    doc["run"] = {"memory_mb": 64}
    return doc


def _generic_base(name: str) -> dict:
    """Any registered model: its example, with a check along ``width`` (or its first swept axis)
    over three values, every other swept axis fixed by ``where``."""
    m = get_model(name)
    ex = copy.deepcopy(dict(m.example))
    doc = {"model": name, "seeds": ex.pop("seeds", 1), "description": f"fuzz base {name}", **ex}
    sweep = doc.setdefault("sweep", {})
    axis = "width" if "width" in m.param_names else next(iter(sweep))
    vals = sorted(sweep.get(axis, [4, 8]))
    if len(vals) < 3:
        vals = vals + [2 * vals[-1]] * (3 - len(vals)) if len(vals) == 2 else [4, 8, 16]
        sweep[axis] = sorted(set(vals)) if len(set(vals)) >= 3 else [4, 8, 16]
    where = {k: v[0] for k, v in sweep.items() if k not in (axis, m.time_axis) and len(v) > 1}
    doc["checks"] = [{"axis": axis, "where": where}]
    doc["run"] = {"memory_mb": 64}
    return doc


def _frontier_base() -> dict:
    """A tiny compute-optimal frontier (one-pass SGD, expected loss) with a frontier map."""
    return {"model": "random_features", "seeds": 1, "description": "fuzz base frontiers",
            "params": {"alpha": 0.75, "latent_dim": 64, "learner": "sgd_expected", "samples": math.inf},
            "sweep": {"width": [4, 8, 16, 32], "steps": [1, 10, 100, 1000], "beta": [0.25, 0.5], "lr_scale": [0.25, 0.5]},
            "frontiers": [{"name": "f", "size": "width", "time": "steps", "where": {"beta": 0.25, "lr_scale": 0.5},
                           "tolerance": 0.2},
                          {"name": "m", "over": ["beta", "lr_scale"]}],
            "quick": {"seeds": 1}, "run": {"memory_mb": 64}}


#: One valid base document per registered model (and one with ``[[frontiers]]`` tables): the test
#: below asserts this covers every model ``list_models`` shows.
BASES = {name: (_base(name) if name in ("random_features", "superposition") else _generic_base(name))
         for name in list_models()}
BASES["random_features/frontiers"] = _frontier_base()

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
        ("checks.0.metric", "represented_fraction"), ("checks.0.fit_range", [4, 16]), ("quick.seeds", 2)],
}


#: Edits that keep any base valid.
GENERIC_BENIGN = [("seeds", 1), ("description", ""), ("checks", _DROP), ("run", _DROP), ("checks.0.tolerance", 0.5),
                  ("frontiers.0.tolerance", 0.5), ("frontiers.1", _DROP)]


def _set(doc, dotted, v):
    *head, last = dotted.split(".")
    node = doc
    for k in head:
        node = node[int(k)] if isinstance(node, list) else node.get(k)
        if node is None:
            return
    if isinstance(node, list):
        if v is _DROP:
            del node[int(last):int(last) + 1]
        elif int(last) < len(node):
            node[int(last)] = copy.deepcopy(v)
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
    for dotted, v in draw(st.lists(st.sampled_from(BENIGN.get(model, GENERIC_BENIGN)), max_size=3)):
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
    return text, draw(st.booleans()), added_top, model in COMPUTED


FIELD = re.compile(r"^toyscale: (\S+?|\S[^:]*?): \S")


def _computing() -> bool:
    import toyscale.sweep

    return toyscale.sweep.run_experiment is not _no_compute


#: Bases whose valid mutations are computed; the others' valid mutations stop after validation
#: (their first compilation costs 15-30 s on 2 cores; their compute is covered by the conformance
#: tests, which run every model's example).
COMPUTED = ("random_features", "superposition", "random_features/frontiers")


def _no_compute(exp, out, **kw):
    """``run_experiment`` up to computing: the store is initialised, nothing is computed."""
    from toyscale.store import ResultStore
    from toyscale.sweep import RunSummary, experiment_meta

    ResultStore(out).init(experiment_meta(exp))
    return RunSummary(n_rows=exp.n_configs, computed=0, skipped=0, failed_chunks=[], compiles=0, seconds=0.0,
                      statuses={}, complete=False)


def check_run(text: str, quick: bool, added_top=(), compute: bool = True):
    if not compute:
        import toyscale.sweep

        real, toyscale.sweep.run_experiment = toyscale.sweep.run_experiment, _no_compute
        try:
            return check_run(text, quick, added_top)
        finally:
            toyscale.sweep.run_experiment = real
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
            if _computing():
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
    return to_toml(doc), flag, set(), model in COMPUTED


_DELETE = object()


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
@example(_case("random_features"))
@example(_case("superposition"))
@example(_case("associative_memory"))
@example(_case("lottery"))
@example(_case("ticket_ensemble"))
@example(_case("model_collapse"))
@example(_case("random_features/frontiers"))
@example(_case("random_features/frontiers", frontiers__1__over=["beta"]))
@example(_case("random_features/frontiers", frontiers__0__tolerance=math.inf))
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
@example(("model = 'random_features'\nseeds = = 2\n", False, set(), True))
def test_mutated_experiment_runs_or_exits_2_naming_a_field(case):
    text, quick, added_top, compute = case
    code, field = check_run(text, quick, added_top, compute)
    event(f"exit {code}" + (f" {re.sub(r'[0-9]+', 'N', field)}" if field and not field.endswith(".toml") else ""))


def test_every_registered_model_has_a_fuzz_base_and_frontiers_are_covered():
    assert set(list_models()) <= {BASES[k]["model"] for k in BASES} and set(list_models()) <= set(BASES)
    assert any(doc.get("frontiers") for doc in BASES.values())


@pytest.mark.parametrize("label", [pytest.param(k, marks=() if k in COMPUTED else pytest.mark.slow) for k in sorted(BASES)])
def test_every_base_document_runs(label):
    # the unmutated bases are valid runs (exit 0) -- else the fuzz test would only ever see exit 2
    code, _ = check_run(to_toml(BASES[label]), quick=False)
    assert code == 0

