"""The sweep engine: grid -> groups (one compiled program each) -> cells -> chunks -> store.

* **Rows.** The grid is the product of the swept axes and the seeds; each row is one
  configuration with every parameter's value, identified by ``config_hash``.
* **Groups.** Rows that agree on every ``static`` parameter, on the bucket of every ``shape``
  parameter and on the model's ``group_extra`` keys share one compiled program.
* **Cells.** Rows of a group that agree on everything except the ``nested`` axes are one
  cell: the model evaluates all nested values of a cell in one call (shared work).
* **Chunks.** Consecutive cells of a group, as many as fit the memory budget, are evaluated by
  ``jit(vmap(evaluate))``; the last chunk is padded to the same size so a group compiles once.
  The host loops over chunks (progress bar, bounded memory) and writes each finished chunk to
  the store, which makes a killed run resumable at chunk granularity.
* **Status.** A row whose metrics are not all finite is stored with ``status = "nonfinite"``;
  a model may flag ``"diverged"``. A chunk that raises is reported and left for the next run;
  it never stops the other chunks.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from toyscale.experiment import Experiment
from toyscale.models import get_model
from toyscale.models.base import Model
from toyscale.store import ResultStore

STATUS_OK, STATUS_NONFINITE, STATUS_DIVERGED = "ok", "nonfinite", "diverged"


def config_hash(model: str, row: dict) -> str:
    """Stable identity of one configuration: model name, every parameter value, seed."""
    payload = json.dumps({"model": model, **{k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()}},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def next_pow2(x: int) -> int:
    return 1 << max(0, int(math.ceil(math.log2(max(1, x)))))


@dataclass
class Cell:
    dyn: dict  # dynamic parameter values (and true values of shape parameters)
    seed: int
    rows: list = field(default_factory=list)  # (row index, nested index tuple)


@dataclass
class Group:
    static: dict
    nested: dict
    cells: list


@dataclass
class Plan:
    """Expanded sweep: all rows and their grouping into compiled programs and cells."""

    model: Model
    rows: list
    hashes: list
    groups: list


def expand(exp: Experiment) -> list[dict]:
    """All configurations of the experiment, in grid order (seeds innermost)."""
    axes = list(exp.sweep)
    out = []
    for combo in itertools.product(*(exp.sweep[a] for a in axes)):
        base = dict(exp.params)
        base.update(zip(axes, combo))
        for s in exp.seeds:
            row = {name: base[name] for name in get_model(exp.model).param_names}
            row["seed"] = s
            out.append(row)
    return out


def plan(exp: Experiment) -> Plan:
    """Group the experiment's rows into compiled programs (groups) and shared evaluations (cells)."""
    model = get_model(exp.model)
    rows = expand(exp)
    hashes = [config_hash(model.name, r) for r in rows]
    roles = {p.name: p.role for p in model.params}
    nested_names = [n for n in model.param_names if roles[n] == "nested"]
    bucket = model.bucket or (lambda name, value: next_pow2(value))
    groups: dict = {}
    for i, row in enumerate(rows):
        static = {}
        for n in model.param_names:
            if roles[n] == "static":
                static[n] = row[n]
            elif roles[n] == "shape":
                static[n] = bucket(n, row[n])
        if model.group_extra is not None:
            static.update(model.group_extra(row))
        gkey = json.dumps(static, sort_keys=True, default=str)
        g = groups.setdefault(gkey, {"static": static, "cells": {}, "nested": {n: set() for n in nested_names}})
        for n in nested_names:
            g["nested"][n].add(row[n])
        dyn = {n: row[n] for n in model.param_names if roles[n] in ("dynamic", "shape")}
        ckey = json.dumps([dyn, row["seed"]], sort_keys=True, default=str)
        cell = g["cells"].setdefault(ckey, Cell(dyn=dyn, seed=row["seed"]))
        cell.rows.append(i)
    out = []
    for g in groups.values():
        nested = {n: tuple(sorted(v)) for n, v in g["nested"].items()}
        cells = list(g["cells"].values())
        for c in cells:
            c.rows = [(i, tuple(nested[n].index(rows[i][n]) for n in nested_names)) for i in c.rows]
        out.append(Group(static=g["static"], nested=nested, cells=cells))
    return Plan(model=model, rows=rows, hashes=hashes, groups=out)


@dataclass
class RunSummary:
    """What a run did: rows computed now, rows found done, chunks failed, compilations, seconds."""

    n_rows: int
    computed: int
    skipped: int
    failed_chunks: list
    compiles: int
    seconds: float
    statuses: dict


_PROGRAMS: dict = {}  # (model, static, nested, x64) -> jitted program, reused across runs in one process


def _program(model: Model, static: dict, nested: dict) -> Callable:
    import jax

    key = (model.name, json.dumps(static, sort_keys=True, default=str), json.dumps(nested, default=str),
           bool(jax.config.jax_enable_x64))
    if key in _PROGRAMS:
        return _PROGRAMS[key][0]
    traces = [0]

    def one(dyn, seed):
        traces[0] += 1  # runs at trace time only: counts compilations
        return model.evaluate(static, nested, dyn, jax.random.key(seed))

    _PROGRAMS[key] = (jax.jit(jax.vmap(one)), traces)
    return _PROGRAMS[key][0]


def default_memory_mb() -> float:
    """Working-memory budget of one chunk when the experiment sets no ``run.memory_mb``.

    1024 MB on the CPU (host memory is shared with everything else; chunks stay small so a
    killed run loses little). On an accelerator, a quarter of the device's memory: a chunk's
    cells run side by side, and on a GPU many small models per program is where the speed is
    (measured on one H100: a 6-model chunk of the superposition grid took as long per step as a
    68-model one).
    """
    import jax

    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return 1024.0
    try:
        limit = (dev.memory_stats() or {}).get("bytes_limit")
    except Exception:  # pragma: no cover - backends without memory_stats
        limit = None
    return float(limit) / 4 / 2**20 if limit else 4096.0


def _chunk_cells(model: Model, group: Group, memory_mb: float) -> int:
    n = len(group.cells)
    if model.cell_bytes is None:
        return max(1, min(n, 1024))
    per = max(1, int(model.cell_bytes(group.static, group.nested)))
    return max(1, min(n, int(memory_mb * 2**20 // per)))


def run_experiment(exp: Experiment, out: str | Path, *, progress: bool = True,
                   on_chunk: Callable[[int], None] | None = None) -> RunSummary:
    """Run (or resume) ``exp`` into the result store at ``out``.

    Finished chunks found in ``out`` are skipped; only missing configurations are computed, so
    a run killed at any moment and restarted ends with exactly the rows of an uninterrupted
    run. ``on_chunk(k)`` is called after the k-th chunk is written (used by tests).

    JAX's 64-bit mode is switched to the experiment's precision for the duration of the run
    only (``jax.enable_x64`` context), so a float32 run does not change later float64 work.
    """
    import jax

    with jax.enable_x64(exp.precision == "float64"):
        return _run_experiment(exp, out, progress=progress, on_chunk=on_chunk)


def _run_experiment(exp: Experiment, out, *, progress, on_chunk) -> RunSummary:
    import jax
    import jax.numpy as jnp
    from tqdm import tqdm

    t0 = time.perf_counter()
    p = plan(exp)
    model = p.model
    store = ResultStore(out)
    store.init({"name": exp.name, "fingerprint": exp.fingerprint(), "experiment": exp.to_dict(),
                "checks": [dict(c.__dict__, where={k: _j(v) for k, v in c.where.items()}) for c in exp.checks],
                "phases": [dict(q.__dict__, where={k: _j(v) for k, v in q.where.items()}, over=list(q.over),
                                show=list(q.show)) for q in exp.phases],
                "description": exp.description})
    done = store.done_hashes()
    already = sum(1 for h in set(p.hashes) if h in done)
    fdtype = np.float64 if exp.precision == "float64" else np.float32
    roles = {q.name: q.role for q in model.params}
    metric_names = [m.name for m in model.metrics]

    memory_mb = exp.memory_mb or default_memory_mb()
    work = []  # (group index, group, chunk size, [cells]) for cells with undone rows
    for gi, g in enumerate(p.groups):
        todo = [c for c in g.cells if any(p.hashes[i] not in done for i, _ in c.rows)]
        if not todo:
            continue
        size = _chunk_cells(model, g, memory_mb)
        for k in range(0, len(todo), size):
            work.append((gi, g, min(size, len(g.cells)), todo[k:k + size]))

    programs: dict = {}
    traces_before = sum(t[0] for _, t in _PROGRAMS.values())
    failed, computed, statuses = [], 0, {}
    bar = tqdm(total=len(work), desc=f"{exp.name}", unit="chunk", disable=not progress, file=sys.stderr)
    for k, (gi, g, size, cells) in enumerate(work):
        padded = cells + [cells[-1]] * (size - len(cells))
        try:
            if gi not in programs:
                programs[gi] = _program(model, g.static, g.nested)
            dyn = {}
            for n, v in padded[0].dyn.items():
                vals = [c.dyn[n] for c in padded]
                dt = fdtype if (model.param(n).type is float or any(isinstance(x, float) for x in vals)) else np.int32
                dyn[n] = jnp.asarray(np.asarray(vals, dtype=dt))
            seeds = jnp.asarray(np.asarray([c.seed for c in padded], dtype=np.uint32))
            res = programs[gi](dyn, seeds)
            res = {kk: np.asarray(vv) for kk, vv in res.items()}
        except Exception as e:  # one failing chunk must not stop the sweep
            failed.append({"group": gi, "error": f"{type(e).__name__}: {e}"})
            print(f"toyscale: chunk {k} (group {gi}) failed: {type(e).__name__}: {e}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            bar.update(1)
            continue
        cols: dict[str, list] = {n: [] for n in model.param_names}
        cols.update(seed=[], config_hash=[], status=[], group=[])
        for m in metric_names:
            cols[m] = []
        for ci, cell in enumerate(cells):
            for ri, idx in cell.rows:
                h = p.hashes[ri]
                if h in done:
                    continue
                row = p.rows[ri]
                for n in model.param_names:
                    cols[n].append(row[n])
                cols["seed"].append(row["seed"])
                cols["config_hash"].append(h)
                cols["group"].append(gi)
                finite = True
                for m in model.metrics:
                    val = res[m.name][(ci,) + idx]
                    finite &= bool(np.all(np.isfinite(val)))
                    cols[m.name].append(val.tolist() if m.size else float(val))
                status = STATUS_OK if finite else STATUS_NONFINITE
                if "diverged" in res and bool(res["diverged"][(ci,) + idx]):
                    status = STATUS_DIVERGED
                cols["status"].append(status)
                statuses[status] = statuses.get(status, 0) + 1
        for n in model.param_names:
            if roles[n] != "static" and model.param(n).type is not str:
                if model.param(n).allow_inf or model.param(n).type is float:
                    cols[n] = np.asarray(cols[n], dtype=np.float64)
        name = f"g{gi:03d}-" + hashlib.sha256("".join(cols["config_hash"]).encode()).hexdigest()[:16]
        store.write_chunk(name, cols)
        computed += len(cols["seed"])
        done.update(cols["config_hash"])
        bar.update(1)
        if on_chunk is not None:
            on_chunk(k)
    bar.close()
    return RunSummary(n_rows=len(p.rows), computed=computed, skipped=already, failed_chunks=failed, compiles=sum(t[0] for _, t in _PROGRAMS.values()) - traces_before,
        seconds=time.perf_counter() - t0, statuses=statuses)


def _j(v: Any):
    return "inf" if isinstance(v, float) and math.isinf(v) else v
