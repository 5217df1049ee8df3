"""Experiment files (TOML) -> validated :class:`Experiment`.

Format::

    model = "random_features"        # a registered model (`toyscale list`)
    seeds = 8                        # count (seeds 0..7) or explicit list [0, 3, 7]
    precision = "float64"            # optional; default: what the model declares (`toyscale list MODEL`), on every device
    matmul_precision = "tf32"        # optional, float32 runs: reduced-precision products (default "highest")
    description = "one line"         # optional

    [params]                         # fixed values; every other parameter takes its default
    alpha = 1.0

    [sweep]                          # swept axes: a list, or a geometric / linear range
    width = {geom = [16, 512], num = 6}
    samples = [inf]
    ridge = {lin = [0.0, 1e-3], num = 3}

    [[checks]]                       # one theory-vs-fit comparison per entry
    axis = "width"                   # a swept axis
    where = {samples = inf}          # fixes every other swept axis (optional if it has one value)
    fit_range = [16, 256]            # optional (must hold >= 3 finite swept values); default: the theory's validity range
    name = "width"                   # optional; default: the axis
    tolerance = 0.1                  # optional; |fitted - theory| allowed for `agrees`
    statistic = "mean"               # optional; "mean" or "median" over seeds: the curve that is fitted
    min_decades = 1.0                # optional; a fit spanning fewer decades of the axis is invalid (0: off)
    floor = 0.0                      # optional; a seed's metric <= floor inside the window makes the fit invalid

    [quick]                          # overrides used by `toyscale run --quick` (required by it; validated on every run)
    seeds = 2
    [quick.sweep]
    width = {geom = [16, 128], num = 4}

Every error is a :class:`~toyscale.errors.UserError` naming the field and the allowed values.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from toyscale.errors import UserError
from toyscale.jsonio import encode
from toyscale.fit import STATISTICS  # the seed statistics the fit supports: one list
from toyscale.models import get_model
from toyscale.protocol import DEFAULT_TOLERANCE, TIME_AXIS

TOP_KEYS = ("model", "seeds", "precision", "matmul_precision", "description", "params", "sweep", "checks", "phases", "frontiers", "quick",
            "run")
PHASE_KEYS = ("name", "axis", "over", "where", "fit_range", "tolerance", "metric", "show", "statuses", "statistic",
              "min_decades", "floor")
CHECK_KEYS = ("name", "axis", "where", "fit_range", "tolerance", "metric", "statuses", "statistic", "min_decades", "floor")
FRONTIER_KEYS = ("name", "size", "time", "where", "metric", "tolerance", "statuses", "over")
RUN_KEYS = ("memory_mb",)
QUICK_KEYS = ("seeds", "params", "sweep", "checks", "phases", "frontiers")
#: ``matmul_precision`` values -> JAX's ``default_matmul_precision`` names. "highest": full
#: float32 products (XLA's default on a GPU is TF32, 10-bit mantissas); "tf32", "bf16": reduced
#: products; "default": whatever the backend does (TF32 on recent NVIDIA GPUs).
MATMUL_PRECISIONS = {"highest": "highest", "tf32": "tensorfloat32", "bf16": "bfloat16", "default": "default"}
MAX_CONFIGS = 5_000_000
MAX_AXIS = 100_000  # values of one axis spec (num)
MAX_SEED = 2**32 - 1  # seeds are uint32 PRNG keys
MIN_FIT_POINTS = 3  # a slope fit needs at least three axis values (see toyscale.report)


@dataclass(frozen=True)
class Check:
    """One theory-vs-fit comparison: fit the slope of ``metric`` along ``axis`` in a slice."""

    name: str
    axis: str
    where: Mapping[str, Any]
    fit_range: tuple[float, float] | None = None
    tolerance: float = DEFAULT_TOLERANCE
    metric: str | None = None
    statuses: tuple[str, ...] | None = None  # statuses whose rows are fitted (default: the usable ones)
    statistic: str = "mean"  # over seeds: the curve that is fitted ("mean" or "median")
    min_decades: float = 1.0  # a fit spanning fewer decades of the axis is not an exponent (0: off)
    floor: float = 0.0  # a seed's metric <= floor inside the fit window: a fit before a wall


@dataclass(frozen=True)
class FrontierSpec:
    """A compute-optimal frontier: IsoFLOP envelope of the ``size`` x ``time`` grid in a slice."""

    name: str
    size: str
    time: str
    where: Mapping[str, Any]
    metric: str | None = None
    tolerance: float = DEFAULT_TOLERANCE
    statuses: tuple[str, ...] | None = None
    over: tuple[str, ...] = ()  # two swept axes: one frontier per cell (a phase diagram of eta, xi)


@dataclass(frozen=True)
class Phase:
    """A phase diagram: the check ``axis`` fitted in every cell of the ``over`` grid.

    ``where`` fixes every other swept axis; ``show`` lists metrics mapped beside the fitted
    exponent (seed-mean at the largest fitted axis value).
    """

    name: str
    axis: str
    over: tuple[str, str]
    where: Mapping[str, Any]
    fit_range: tuple[float, float] | None = None
    tolerance: float = DEFAULT_TOLERANCE
    metric: str | None = None
    show: tuple[str, ...] = ()
    statuses: tuple[str, ...] | None = None
    statistic: str = "mean"
    min_decades: float = 1.0
    floor: float = 0.0


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: model, fixed params, swept axes, seeds, checks."""

    model: str
    seeds: tuple[int, ...]
    params: Mapping[str, Any]
    sweep: Mapping[str, tuple]
    checks: tuple[Check, ...] = ()
    phases: tuple["Phase", ...] = ()
    frontiers: tuple[FrontierSpec, ...] = ()
    precision: str = "float64"
    matmul_precision: str = "highest"  # products of a float32 run (MATMUL_PRECISIONS)
    description: str = ""
    name: str = "experiment"
    memory_mb: float | None = None  # None: default_memory_mb() of the backend at run time
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def values(self, name: str) -> tuple:
        """All values parameter ``name`` takes in this experiment."""
        if name == "seed":
            return self.seeds
        return self.sweep[name] if name in self.sweep else (self.params[name],)

    @property
    def n_configs(self) -> int:
        n = len(self.seeds)
        for vals in self.sweep.values():
            n *= len(vals)
        return n

    def to_dict(self) -> dict:
        """JSON-safe description of what is computed (checks excluded: they do not change rows).
        ``matmul_precision`` appears only when it is not the default ``"highest"`` (so the
        fingerprints of experiments that never set it do not change)."""
        out = {
            "model": self.model,
            "seeds": list(self.seeds),
            "precision": self.precision,
            "params": {k: encode(v) for k, v in self.params.items()},
            "sweep": {k: [encode(x) for x in v] for k, v in self.sweep.items()},
        }
        if self.matmul_precision != "highest":
            out["matmul_precision"] = self.matmul_precision
        return out

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def _axis_values(spec, field: str) -> list:
    """Expand an axis spec: a list, ``{geom = [lo, hi], num = K}`` or ``{lin = [lo, hi], num = K}``."""
    allowed = "a non-empty list, {geom = [lo, hi], num = K} or {lin = [lo, hi], num = K}"
    if isinstance(spec, list):
        if not spec:
            raise UserError(field, f"empty list; expected {allowed}")
        return list(spec)
    if isinstance(spec, dict):
        kinds = [k for k in ("geom", "lin") if k in spec]
        extra = set(spec) - {"geom", "lin", "num"}
        if len(kinds) != 1 or "num" not in spec or extra:
            raise UserError(field, f"malformed axis spec {spec!r}; expected {allowed}")
        kind = kinds[0]
        rng, num = spec[kind], spec["num"]
        if (not isinstance(rng, list) or len(rng) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in rng)):
            raise UserError(f"{field}.{kind}", f"expected [lo, hi] (two numbers), got {rng!r}")
        if not isinstance(num, int) or isinstance(num, bool) or not 1 <= num <= MAX_AXIS:
            raise UserError(f"{field}.num", f"expected an integer in [1, {MAX_AXIS}], got {num!r}")
        lo, hi = float(rng[0]), float(rng[1])
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise UserError(f"{field}.{kind}", f"expected finite lo <= hi, got {rng!r}")
        if kind == "geom":
            if lo <= 0:
                raise UserError(f"{field}.geom", f"geometric range needs lo > 0, got {rng!r}")
            return list(np.geomspace(lo, hi, num)) if num > 1 else [lo]
        return list(np.linspace(lo, hi, num)) if num > 1 else [lo]
    raise UserError(field, f"expected {allowed}, got {spec!r}")


def _coerce_axis(param, raw_values, field):
    vals = []
    for i, x in enumerate(raw_values):
        if param.type is int and isinstance(x, (float, np.floating)) and math.isfinite(x):
            x = int(round(float(x)))  # geometric ranges of integer axes are rounded
        elif isinstance(x, np.floating):
            x = float(x)
        vals.append(param.coerce(x, f"{field}[{i}]"))
    out = []
    for x in vals:  # de-duplicate, keep order of first appearance
        if x not in out:
            out.append(x)
    return tuple(out)


def _seeds(value, field="seeds") -> tuple[int, ...]:
    allowed = (f"a positive integer count (at most {MAX_CONFIGS}) or a non-empty list of distinct integers "
               f"in [0, {MAX_SEED}]")
    if isinstance(value, bool):
        raise UserError(field, f"expected {allowed}, got {value!r}")
    if isinstance(value, int):
        if not 1 <= value <= MAX_CONFIGS:
            raise UserError(field, f"{value!r} is out of range; allowed: {allowed}")
        return tuple(range(value))
    if (isinstance(value, list) and 0 < len(value) <= MAX_CONFIGS
            and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in value)):
        if len(set(value)) != len(value):
            raise UserError(field, f"seeds repeat; allowed: {allowed}")
        return tuple(value)
    raise UserError(field, f"expected {allowed}, got {value!r}")


_KEY_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)((?:\[\d+\])*)$")


def _key_parts(path: str) -> list:
    """``checks[0].tolerance`` -> ``["checks", 0, "tolerance"]``; ``params.alpha`` -> two names.

    A name may be followed by ``[i]`` (an entry of an array of tables, ``[[checks]]``, counted
    from 0 in file order); a bare number between dots (``checks.0.tolerance``) means the same.
    """
    parts: list = []
    for seg in path.split("."):
        if seg.isdigit() and parts:
            parts.append(int(seg))
            continue
        m = _KEY_PART.match(seg)
        if not m:
            raise UserError("--set", f"malformed key {path!r}; allowed: dotted names with optional [index], "
                                     "e.g. params.alpha=0.8 or checks[0].tolerance=0.2")
        parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return parts


def _set_path(doc: dict, path: str, value) -> None:
    """Set ``doc[path] = value`` for a ``--set`` key (see :func:`_key_parts` for the syntax).

    Tables on the way are created; entries of arrays of tables must exist (an override edits a
    check, it does not invent one). The tables touched are copied, never the caller's.
    """
    parts = _key_parts(path)
    node = doc
    where = ""
    for k, nxt in zip(parts[:-1], parts[1:]):
        if isinstance(k, int):
            if not isinstance(node, list):
                raise UserError("--set", f"{path!r}: {where} is not an array of tables; allowed: an index only "
                                         "after an array of tables such as checks, phases, frontiers")
            if not 0 <= k < len(node):
                allowed = f"indices 0..{len(node) - 1}" if node else "none (the array is empty)"
                raise UserError("--set", f"{path!r}: {where} has {len(node)} entries; allowed: {allowed}")
            if not isinstance(node[k], dict):
                raise UserError("--set", f"{path!r}: {where}[{k}] is not a table")
            node[k] = dict(node[k])
            node, where = node[k], f"{where}[{k}]"
            continue
        if not isinstance(node, dict):
            raise UserError("--set", f"{path!r}: {where} is not a table")
        child = node.get(k)
        if isinstance(nxt, int):
            if not isinstance(child, list):
                have = "missing" if child is None else f"not an array of tables ({type(child).__name__})"
                raise UserError("--set", f"{path!r}: {k} is {have}; allowed: an index into an array of tables "
                                         "the file defines, e.g. checks[0].tolerance=0.2")
            node[k] = child = list(child)
        elif child is None:
            node[k] = child = {}
        elif isinstance(child, dict):
            node[k] = child = dict(child)
        else:
            raise UserError("--set", f"{path!r}: {(where + '.' if where else '') + k} is not a table")
        node, where = child, (where + "." if where else "") + k
    last = parts[-1]
    if isinstance(last, int):
        raise UserError("--set", f"{path!r} ends in an index; allowed: a key inside the entry, e.g. "
                                 "checks[0].tolerance=0.2")
    if not isinstance(node, dict):
        raise UserError("--set", f"{path!r}: {where} is not a table")
    node[last] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``--set KEY=VALUE``; VALUE is read as TOML (``0.8``, ``[1, 2]``, ``inf``), else a string."""
    if "=" not in text:
        raise UserError("--set", f"expected KEY=VALUE (e.g. params.alpha=0.8), got {text!r}")
    key, val = text.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {val.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = val.strip()
    return key, value


def load_toml(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(str(path), "no such experiment file") from None
    except OSError as e:
        raise UserError(str(path), f"cannot read: {e.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(str(path), f"TOML syntax error: {e}") from None


def load_experiment(path: str | Path, *, quick: bool = False, overrides: list[str] | tuple = ()) -> Experiment:
    """Read, override and validate an experiment file.

    Args:
      path: the TOML file.
      quick: apply the file's ``[quick]`` table (smaller sweep for a fast run).
      overrides: ``KEY=VALUE`` strings (``params.alpha=0.8``, ``seeds=4``), applied last.
    """
    return experiment_from_doc(load_toml(path), name=Path(path).stem, quick=quick, overrides=overrides)


def experiment_from_doc(doc: Mapping, *, name: str = "experiment", quick: bool = False,
                        overrides: list[str] | tuple = ()) -> Experiment:
    """Apply ``[quick]`` and ``KEY=VALUE`` overrides to a parsed document, then validate it."""
    doc = dict(doc)
    if quick:
        doc = _apply_quick(doc)
    for text in overrides:
        key, value = parse_override(text)
        _set_path(doc, key, value)
    return experiment_from_dict(doc, name=name)


def _apply_quick(doc: dict) -> dict:
    """Merge the ``[quick]`` table into the document (tables merge key by key).

    A document without a ``[quick]`` table is an error: ``--quick`` would silently run the
    full experiment.
    """
    doc = copy.deepcopy(doc)
    q = doc.pop("quick", None)
    if q is None:
        raise UserError("quick", "--quick asked for, but the experiment has no [quick] table; "
                                 f"allowed: add a [quick] table (keys {', '.join(QUICK_KEYS)}) or run without --quick")
    if not isinstance(q, dict):
        raise UserError("quick", f"expected a table with keys {', '.join(QUICK_KEYS)}, got {q!r}")
    bad = set(q) - set(QUICK_KEYS)
    if bad:
        raise UserError(f"quick.{sorted(bad)[0]}", f"unknown key; allowed: {', '.join(QUICK_KEYS)}")
    for k, v in q.items():
        if k in ("params", "sweep"):
            if not isinstance(v, dict):
                raise UserError(f"quick.{k}", f"expected a table of {k} (merged into [{k}]), got {v!r}")
            if not isinstance(doc.setdefault(k, {}), dict):
                raise UserError(k, "expected a table")
            doc[k].update(v)
        else:
            doc[k] = v
    return doc


def _validate_quick(doc: Mapping) -> None:
    """Validate the experiment ``--quick`` would run; errors name the field under ``quick``."""
    q = doc.get("quick")
    try:
        experiment_from_dict(doc, quick=True)
    except UserError as e:
        if e.field.startswith("quick") or not isinstance(q, dict):
            raise
        root = e.field.split(".")[0].split("[")[0]
        if root in q:
            raise UserError(f"quick.{e.field}", e.message) from None
        # the full experiment is valid, so the [quick] table's values make this one invalid
        raise UserError("quick", f"the --quick experiment is invalid: {e}") from None


def experiment_from_dict(doc: Mapping, *, name: str = "experiment", quick: bool = False) -> Experiment:
    """Validate a parsed experiment document (see the module docstring for the format)."""
    doc = copy.deepcopy(dict(doc))
    unknown = set(doc) - set(TOP_KEYS)
    if unknown:
        k = sorted(unknown)[0]
        raise UserError(k, f"unknown key; allowed top-level keys: {', '.join(TOP_KEYS)}")
    if quick:
        doc = _apply_quick(doc)
    if "model" not in doc:
        raise UserError("model", "missing; allowed: a registered model name (`toyscale list`)")
    if not isinstance(doc["model"], str):
        raise UserError("model", f"expected a model name, got {doc['model']!r}")
    model = get_model(doc["model"])
    names = model.param_names
    seeds = _seeds(doc.get("seeds", 1))
    precision = doc.get("precision")
    if precision is not None and precision not in ("float32", "float64"):
        raise UserError("precision", f"{precision!r} is not allowed; allowed: 'float32', 'float64' "
                                     f"(default: what the model declares)")
    matmul = doc.get("matmul_precision", "highest")
    if not isinstance(matmul, str) or matmul not in MATMUL_PRECISIONS:
        raise UserError("matmul_precision", f"{matmul!r} is not allowed; allowed: "
                                            f"{', '.join(repr(k) for k in MATMUL_PRECISIONS)} (float32 runs' products)")

    params_in = doc.get("params", {})
    sweep_in = doc.get("sweep", {})
    for tbl, fname in ((params_in, "params"), (sweep_in, "sweep")):
        if not isinstance(tbl, dict):
            raise UserError(fname, "expected a table")
        for k in tbl:
            if k == "seed":
                raise UserError(f"{fname}.seed", "seeds are set by the top-level key `seeds`")
            if k not in names:
                raise UserError(f"{fname}.{k}", f"unknown parameter of {model.name}; allowed: {', '.join(names)}")
    both = set(params_in) & set(sweep_in)
    if both:
        k = sorted(both)[0]
        raise UserError(f"sweep.{k}", "also set in [params]; set it in one place")

    params = {}
    for p in model.params:
        if p.name in params_in:
            params[p.name] = p.coerce(params_in[p.name], f"params.{p.name}")
        elif p.name not in sweep_in and p.default_from is None:
            params[p.name] = p.default
    for p in model.params:  # parameters whose default is another parameter's value
        if p.default_from is None or p.name in params_in or p.name in sweep_in:
            continue
        src = p.default_from
        if src not in names:
            raise ValueError(f"model {model.name}: parameter {p.name} has default_from={src!r}, not a parameter")
        if src not in params:
            raise UserError(f"params.{p.name}", f"set {p.name} explicitly when {src} is swept")
        params[p.name] = p.coerce(params[src], f"params.{p.name}")
    params = {p.name: params[p.name] for p in model.params if p.name in params}
    sweep = {}
    for k, spec in sweep_in.items():
        sweep[k] = _coerce_axis(model.param(k), _axis_values(spec, f"sweep.{k}"), f"sweep.{k}")

    run = doc.get("run", {})
    if not isinstance(run, dict):
        raise UserError("run", f"expected a table with keys {', '.join(RUN_KEYS)}, got {run!r}")
    if set(run) - set(RUN_KEYS):
        raise UserError(f"run.{sorted(set(run) - set(RUN_KEYS))[0]}", f"unknown key; allowed: {', '.join(RUN_KEYS)}")
    memory_mb = run.get("memory_mb")
    if memory_mb is not None and (isinstance(memory_mb, bool) or not isinstance(memory_mb, (int, float))
                                  or not 0 < memory_mb < math.inf):
        raise UserError("run.memory_mb", f"expected a positive finite number (megabytes), got {memory_mb!r}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise UserError("description", f"expected a string, got {description!r}")

    if precision is None:  # the model's declaration for these values, never the platform
        precision = model.precision_for({n: list(sweep[n]) if n in sweep else [params[n]] for n in names})
    exp = Experiment(model=model.name, seeds=seeds, params=params, sweep=sweep, precision=precision,
                     matmul_precision=matmul, description=description, name=name,
                     memory_mb=None if memory_mb is None else float(memory_mb), raw=doc)
    if exp.n_configs > MAX_CONFIGS:
        raise UserError("sweep", f"{exp.n_configs} configurations; allowed: at most {MAX_CONFIGS}")
    if model.check_config is not None:
        model.check_config({n: list(exp.values(n)) for n in names})
    checks = _checks(doc.get("checks", []), exp, model)
    phases = _phases(doc.get("phases", []), exp, model)
    frontiers = _frontiers(doc.get("frontiers", []), exp, model)
    if not quick and doc.get("quick") is not None:
        _validate_quick(doc)  # a broken [quick] table is an error of the file, --quick or not
    return Experiment(**{**exp.__dict__, "checks": checks, "phases": phases, "frontiers": frontiers})


def _names(items, none: str = "none (no other axis is swept; sweep it, or set it under [params])") -> str:
    """Comma-separated names for an error's "allowed:" part; never an empty list."""
    items = list(items)
    return ", ".join(items) if items else none


def _match(values: tuple, x) -> Any:
    for v in values:
        if v == x or (isinstance(v, float) and isinstance(x, (int, float)) and math.isclose(v, x, rel_tol=1e-9)):
            return v
    return None


def _checks(raw, exp: Experiment, model, table: str = "checks") -> tuple:
    out, seen = [], set()
    metric_names = [m.name for m in model.metrics]
    for i, f, c in _tables(raw, table, CHECK_KEYS if table == "checks" else PHASE_KEYS):
        axis = c.get("axis")
        swept = [k for k, v in exp.sweep.items() if len(v) > 1]
        if not isinstance(axis, str) or axis not in exp.sweep:
            raise UserError(f"{f}.axis", f"{axis!r} is not a swept axis; allowed: {', '.join(exp.sweep) or '(none swept)'}")
        over = ()
        if table == "phases":
            over = c.get("over")
            if (not isinstance(over, list) or len(over) != 2 or not all(isinstance(o, str) for o in over)
                    or len(set(over)) != 2 or not all(o in exp.sweep and o != axis for o in over)):
                raise UserError(f"{f}.over", f"expected two swept axes other than {axis!r}; allowed: "
                                             f"{_names(a for a in exp.sweep if a != axis)}")
            over = tuple(over)
        where_in = c.get("where", {})
        if not isinstance(where_in, dict):
            raise UserError(f"{f}.where", "expected a table, e.g. {samples = inf}")
        where = {}
        for k, x in where_in.items():
            if k not in exp.sweep:
                raise UserError(f"{f}.where.{k}", f"not a swept axis; allowed: "
                                                 f"{_names(a for a in exp.sweep if a != axis and a not in over)}")
            if k == axis or k in over:
                raise UserError(f"{f}.where.{k}", "is the check's own axis")
            p = model.param(k)
            xv = p.coerce(x, f"{f}.where.{k}")
            m = _match(exp.sweep[k], xv)
            if m is None:
                raise UserError(f"{f}.where.{k}", f"{x!r} is not a swept value; allowed: {list(exp.sweep[k])}")
            where[k] = m
        for k in swept:
            if k == model.time_axis and k != axis and k not in where and k not in over:
                where[k] = max(exp.sweep[k])  # the time axis defaults to the end of training
            if k != axis and k not in where and k not in over:
                raise UserError(f"{f}.where", f"axis {k!r} varies; fix it with where.{k} (one of {list(exp.sweep[k])})")
        for k, vals in exp.sweep.items():
            if k != axis and k not in where and k not in over:
                where[k] = vals[0]
        fr = c.get("fit_range")
        if fr is not None:
            if (not isinstance(fr, list) or len(fr) != 2
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in fr) or not fr[0] < fr[1]):
                raise UserError(f"{f}.fit_range", f"expected [lo, hi] with lo < hi, got {fr!r}")
            fr = (float(fr[0]), float(fr[1]))
        xs = [float(x) for x in exp.sweep[axis] if isinstance(x, (int, float)) and math.isfinite(x)]
        inside = [x for x in xs if fr is None or fr[0] <= x <= fr[1]]
        if len(inside) < MIN_FIT_POINTS:
            vals = [encode(x) for x in exp.sweep[axis]]
            if fr is not None:
                raise UserError(f"{f}.fit_range", f"[{fr[0]:g}, {fr[1]:g}] holds {len(inside)} of the swept values of "
                                                  f"{axis} {vals}; allowed: a range holding at least {MIN_FIT_POINTS}")
            raise UserError(f"{f}.axis", f"{axis!r} has {len(inside)} finite swept values {vals}; "
                                         f"allowed: an axis with at least {MIN_FIT_POINTS} (a fit needs them)")
        tol = _tolerance(c, f)
        metric = _metric(c, f, metric_names)
        statuses = _statuses(c.get("statuses"), f"{f}.statuses", model)
        statistic = c.get("statistic", "mean")
        if statistic not in STATISTICS:
            raise UserError(f"{f}.statistic", f"unknown statistic {statistic!r}; allowed: {', '.join(STATISTICS)}")
        guard = {k: _nonneg(c, f, k, d) for k, d in (("min_decades", 1.0), ("floor", 0.0))}
        name = _name(c, f, axis, seen)
        if table == "phases":
            show = c.get("show", [])
            if not isinstance(show, list) or any(m not in metric_names for m in show):
                raise UserError(f"{f}.show", f"expected a list of metrics; allowed: {', '.join(metric_names)}")
            out.append(Phase(name=name, axis=axis, over=over, where=where, fit_range=fr, tolerance=float(tol),
                             metric=metric, show=tuple(show), statuses=statuses, statistic=statistic, **guard))
        else:
            out.append(Check(name=name, axis=axis, where=where, fit_range=fr, tolerance=float(tol), metric=metric,
                             statuses=statuses, statistic=statistic, **guard))
    return tuple(out)


def _phases(raw, exp: Experiment, model) -> tuple[Phase, ...]:
    return _checks(raw, exp, model, table="phases")


def _tolerance(c: Mapping, f: str) -> float:
    """A table's ``tolerance``: a positive finite number (default :data:`DEFAULT_TOLERANCE`)."""
    tol = c.get("tolerance", DEFAULT_TOLERANCE)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < math.inf:
        raise UserError(f"{f}.tolerance", f"expected a positive finite number, got {tol!r}")
    return float(tol)


def _nonneg(c: Mapping, f: str, key: str, default: float) -> float:
    """A table's ``min_decades`` or ``floor``: a finite number >= 0 (default ``default``)."""
    v = c.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
        raise UserError(f"{f}.{key}", f"expected a finite number >= 0, got {v!r}")
    return float(v)


def _metric(c: Mapping, f: str, metric_names) -> str | None:
    """A table's ``metric``: one the model reports, or ``None`` (the theory's)."""
    metric = c.get("metric")
    if metric is not None and metric not in metric_names:
        raise UserError(f"{f}.metric", f"unknown metric {metric!r}; allowed: {', '.join(metric_names)}")
    return metric


def _name(c: Mapping, f: str, default: str, seen: set) -> str:
    """A table's ``name`` (letters, digits, ``-_.``; unique among its tables); added to ``seen``."""
    name = c.get("name", default)
    if not isinstance(name, str) or not name or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise UserError(f"{f}.name", f"expected letters, digits, '-', '_' or '.', got {name!r}")
    if name in seen:
        raise UserError(f"{f}.name", f"duplicate name {name!r}")
    seen.add(name)
    return name


def _statuses(raw, field: str, model):
    if raw is None:
        return None
    names = model.status_names
    if not isinstance(raw, list) or not raw or any(not isinstance(x, str) or x not in names for x in raw):
        raise UserError(field, f"expected a non-empty list of statuses; allowed: {', '.join(names)}")
    return tuple(raw)


def _frontiers(raw, exp: Experiment, model) -> tuple[FrontierSpec, ...]:
    """``[[frontiers]]``: compute-optimal frontier of a ``size`` x ``time`` grid (:mod:`toyscale.analysis.frontiers`)."""
    out, seen = [], set()
    metric_names = [m.name for m in model.metrics]
    for i, f, c in _tables(raw, "frontiers", FRONTIER_KEYS):
        if model.compute is None:
            raise UserError(f, f"model {model.name} declares no training compute; frontiers need one")
        size, time = c.get("size", model.size_axis), c.get("time", model.time_axis or TIME_AXIS)
        for key, ax in (("size", size), ("time", time)):
            if not isinstance(ax, str) or ax not in exp.sweep or len(exp.sweep[ax]) < 2:
                raise UserError(f"{f}.{key}", f"{ax!r} is not an axis swept over >= 2 values; allowed: "
                                              f"{', '.join(a for a, v in exp.sweep.items() if len(v) > 1) or '(none)'}")
        if size == time:
            raise UserError(f"{f}.time", "must differ from size")
        over = c.get("over", [])
        if over and (not isinstance(over, list) or len(over) != 2 or not all(isinstance(o, str) for o in over)
                     or len(set(over)) != 2 or not all(o in exp.sweep and o not in (size, time) for o in over)):
            raise UserError(f"{f}.over", f"expected two swept axes other than {size!r} and {time!r}; allowed: "
                                         f"{_names(a for a in exp.sweep if a not in (size, time))}")
        free = {time, *over}
        try:  # the where-table rules of a check along `size`, with `time` (and `over`) free
            check = _checks([{k: v for k, v in c.items() if k in ("where",)} | {"axis": size, "name": "_"}],
                            Experiment(**{**exp.__dict__, "sweep": {k: v for k, v in exp.sweep.items() if k not in free}}),
                            model)[0]
        except UserError as e:
            raise UserError(e.field.replace("checks[0]", f), e.message) from None
        where = {k: v for k, v in check.where.items() if k != time}
        metric = _metric(c, f, metric_names)
        tol = _tolerance(c, f)
        name = _name(c, f, f"frontier_{size}", seen)
        out.append(FrontierSpec(name=name, size=size, time=time, where=where, metric=metric, tolerance=tol,
                                statuses=_statuses(c.get("statuses"), f"{f}.statuses", model), over=tuple(over)))
    return tuple(out)


def _tables(raw, table: str, keys):
    """Yield ``(i, field, table)`` for an array of tables, rejecting non-tables and unknown keys."""
    if not isinstance(raw, list):
        raise UserError(table, f"expected an array of tables ([[{table}]])")
    for i, c in enumerate(raw):
        f = f"{table}[{i}]"
        if not isinstance(c, dict):
            raise UserError(f, "expected a table")
        bad = set(c) - set(keys)
        if bad:
            raise UserError(f"{f}.{sorted(bad)[0]}", f"unknown key; allowed: {', '.join(keys)}")
        yield i, f, c
