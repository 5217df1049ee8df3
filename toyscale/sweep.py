"""The sweep engine: plan -> schedule -> execute -> assemble -> write.

* **plan** (:func:`plan`). The grid is the product of the swept axes and the seeds; each row is
  one configuration with every parameter's value, identified by :func:`config_hash`. Rows that
  agree on every ``static`` parameter, on the bucket of every ``shape`` parameter and on the
  model's ``group_extra`` keys form a *group* (one compiled program). Rows of a group that agree
  on everything except the ``nested`` axes form a *cell*: the model evaluates all nested values
  of a cell in one call (shared work).
* **schedule** (:func:`schedule`). The cells still missing from the store are cut into chunks
  of balanced size (as many cells as the memory budget allows, the group's cells split into
  equal parts, so the last chunk is not mostly padding and a resumed run computes only what is
  missing). ``part=(i, n)`` computes process i's share of n (:func:`partition`): the work cut
  into units of about equal estimated cost (:func:`cell_cost`), dealt longest first, so the n
  processes compute about the same amount whatever the groups' sizes.
* **execute** (:func:`execute`). ``jit(vmap(evaluate))`` over the chunk's cells, padded to the
  chunk size; one compile per (group, chunk size), cached across runs in one process.
* **assemble** (:func:`assemble`). One row per (cell, nested index): every parameter, the seed,
  the config hash, the metrics and the status. Status as data: the model's own status code
  (``diverged``, ``unconverged``, ...) or, when a required metric is not finite, ``nonfinite``;
  an optional metric that is missing or not finite is stored as null ("not applicable").
* **write** (:func:`write`). One immutable Parquet file per chunk (see :mod:`toyscale.store`);
  a killed run resumes at chunk granularity. A chunk that raises is reported and retried on the
  next run; it never stops the other chunks.

A row is a function of its configuration: models draw every random quantity from keys folded
with the row's own indices, so the same parameters and seed give the same metrics in any sweep
and any chunking (tests/test_determinism.py).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from toyscale.experiment import Experiment
from toyscale.models import get_model
from toyscale.jsonio import encode
from toyscale.protocol import Model, device_program, next_pow2
from toyscale import provenance
from toyscale.store import ResultStore

STATUS_OK, STATUS_NONFINITE = "ok", "nonfinite"

#: A run that shows progress on a terminal cuts a chunk predicted to take longer than this many
#: seconds into chunks of about this length (:class:`ProgressCutter`), so the bar moves during a
#: long group instead of waiting at 0 % for one chunk of all its cells.
PROGRESS_SECONDS = 10.0


def config_hash(model: str, row: dict) -> str:
    """Stable identity of one configuration: model name, every parameter value, seed.

    ``sha256`` of the sorted JSON of ``{"model": name, param: value, ..., "seed": s}`` (floats
    as ``repr``), first 20 hex digits. The same configuration has the same hash in every sweep.
    """
    payload = json.dumps({"model": model, **{k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()}},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


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
    """Expanded sweep: all rows and their grouping into compiled programs (groups) and cells."""

    model: Model
    rows: list
    hashes: list
    groups: list
    dtypes: dict  # dynamic parameter -> numpy dtype of its traced argument


@dataclass
class Chunk:
    """One call of a compiled program: cells of one group, padded to ``size`` cells.

    ``sel``: the part of the group's nested values the call evaluates, per nested axis a range
    ``(start, stop)`` of indices into ``group.nested[axis]`` (``None``: all of them). A sharded
    run may split a dear cell along a nested axis (:func:`partition`); by the protocol a
    configuration's values do not depend on the other values of its group, so the rows are
    those of the whole cell.
    """

    index: int
    group: int
    cells: list
    size: int
    sel: tuple | None = None

    def nested(self, group: "Group") -> dict:
        """The nested values this chunk evaluates (``group.nested`` restricted to ``sel``)."""
        return nested_values(group, self.sel)

    def rows(self, cell: Cell) -> list:
        """``(row index, index into this chunk's nested values)`` of the cell's rows it computes."""
        return selected_rows(cell, self.sel)


def nested_values(group: "Group", sel: tuple | None) -> dict:
    """``group.nested`` restricted to ``sel`` (per nested axis a range ``(start, stop)``)."""
    if sel is None:
        return group.nested
    return {k: v[a:b] for (k, v), (a, b) in zip(group.nested.items(), sel)}


def selected_rows(cell: Cell, sel: tuple | None) -> list:
    """The cell's rows inside ``sel``, their nested indices shifted to the selection's."""
    if sel is None:
        return cell.rows
    return [(ri, tuple(j - a for j, (a, _) in zip(idx, sel))) for ri, idx in cell.rows
            if all(a <= j < b for j, (a, b) in zip(idx, sel))]


def expand(exp: Experiment) -> list[dict]:
    """All configurations of the experiment, in grid order (seeds innermost)."""
    names = get_model(exp.model).param_names
    axes = list(exp.sweep)
    out = []
    for combo in itertools.product(*(exp.sweep[a] for a in axes)):
        base = dict(exp.params)
        base.update(zip(axes, combo))
        for s in exp.seeds:
            row = {name: base[name] for name in names}
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
    dyn_names = [n for n in model.param_names if roles[n] in ("dynamic", "shape")]
    fdtype = np.float64 if exp.precision == "float64" else np.float32
    dtypes = {n: (fdtype if (model.param(n).type is float or model.param(n).allow_inf) else np.int32) for n in dyn_names}
    bucket = model.bucket or (lambda name, value: next_pow2(value))
    program = device_program() if model.device_programs else None
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
        if program is not None:
            static["program"] = program
        gkey = json.dumps(static, sort_keys=True, default=str)
        g = groups.setdefault(gkey, {"static": static, "cells": {}, "nested": {n: set() for n in nested_names}})
        for n in nested_names:
            g["nested"][n].add(row[n])
        dyn = {n: row[n] for n in dyn_names}
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
    return Plan(model=model, rows=rows, hashes=hashes, groups=out, dtypes=dtypes)


def local_devices() -> list:
    """The devices this process computes on: every local device of JAX's default backend."""
    import jax

    return list(jax.local_devices())


def resolve_precision(exp: Experiment, platform: str | None = None) -> Experiment:
    """The experiment with the precision it runs at on ``platform``: the same on every platform.

    The precision is the experiment's own ``precision`` or, without one, what the model declares
    for the experiment's values (:meth:`Model.precision_for`, ``toyscale list MODEL``), set when
    the experiment is read. The platform never lowers it: power-law spectra need float64 on a
    GPU as much as on a CPU (float32 moved one-pass SGD's fitted eta from 0.77 to 0.38), and
    a number must be the same on every device. Inside a float32 run products are full float32
    (``matmul_precision = "highest"``, :func:`precision_context`) unless the experiment opts into
    reduced products. The precision is part of the fingerprint, so float32 and float64 rows
    never share a directory. ``platform`` is accepted for the callers that resolve for another
    machine (``toyscale launch``) and does not change the result.
    """
    return exp


def precision_context(exp: Experiment):
    """The context a run computes in: JAX's 64-bit mode on exactly for float64 experiments
    (``jax.enable_x64``) and the default matmul precision of the experiment
    (``jax.default_matmul_precision``: ``"highest"`` unless ``matmul_precision`` opts into
    ``"tf32"``, ``"bf16"`` or the backend's ``"default"``). Both are trace-time settings, so
    they reach every compiled program of the run and nothing after it."""
    import contextlib

    import jax

    from toyscale.experiment import MATMUL_PRECISIONS

    stack = contextlib.ExitStack()
    stack.enter_context(jax.enable_x64(exp.precision == "float64"))
    stack.enter_context(jax.default_matmul_precision(MATMUL_PRECISIONS[exp.matmul_precision]))
    return stack


def compilation_cache(platform: str = "cpu") -> str | None:
    """Turn on JAX's persistent compilation cache (compiled programs reused across processes:
    the shards of a job array, a resumed run) unless the user configured one.

    Directory: ``$TOYSCALE_COMPILATION_CACHE``, default ``~/.cache/toyscale/jax`` on an
    accelerator; set it to ``0`` to turn the cache off. On the CPU the cache is off unless the
    variable names a directory: compiles there take seconds, and with jax 0.10.2 two long test
    processes died with a segmentation fault inside the cache's executable serialisation
    (``compilation_cache.put_executable_and_time`` / ``get_executable_and_time``), which no
    saved second is worth. Returns the directory in use (``None``: off).
    """
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current:
        return current
    default = "0" if platform == "cpu" else str(Path.home() / ".cache" / "toyscale" / "jax")
    path = os.environ.get("TOYSCALE_COMPILATION_CACHE", default)
    if path in ("", "0"):
        return None
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError:  # read-only home: run without the cache
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    return path


def default_memory_mb() -> float:
    """Working-memory budget of one chunk when the experiment sets no ``run.memory_mb``.

    1024 MB on the CPU (host memory is shared with everything else, including several forced
    host devices; chunks stay small so a killed run loses little). On accelerators, a quarter of
    the memory of every local device together: a chunk's cells are sharded over all local
    devices and run side by side, and on a GPU many small models per program is where the speed
    is (measured on one H100: a 6-model chunk of the superposition grid took as long per step as
    a 68-model one).
    """
    devs = local_devices()
    if devs[0].platform == "cpu":
        return 1024.0
    total = 0.0
    for dev in devs:
        try:
            limit = (dev.memory_stats() or {}).get("bytes_limit")
        except Exception:  # pragma: no cover - backends without memory_stats
            limit = None
        total += float(limit) / 4 / 2**20 if limit else 4096.0
    return total


def cell_cost(model: Model, group) -> float:
    """Estimated cost of one cell of ``group``, in arbitrary units comparable across the groups
    of one plan: the model's :attr:`Model.cell_bytes` (its working memory, which tracks its work:
    the factorisations and products it sizes), else the number of nested results
    ``prod_k len(nested[k])``. Used to balance the shares of a sharded run (:func:`partition`),
    to size chunks for progress (:func:`schedule`) and to fit the precision audit's sample in
    its budget (:func:`toyscale.audit.sample_cells`)."""
    if model.cell_bytes is not None:
        return float(max(1, int(model.cell_bytes(group.static, group.nested))))
    return float(max(1, math.prod(len(v) for v in group.nested.values())))


def max_cells(model: Model, group: Group, memory_mb: float) -> int:
    """The most cells of ``group`` one chunk may hold within ``memory_mb`` (from
    :attr:`Model.cell_bytes`; 1024 when the model gives no estimate)."""
    n = len(group.cells)
    if model.cell_bytes is None:
        return max(1, min(n, 1024))
    per = max(1, int(model.cell_bytes(group.static, group.nested)))
    return max(1, min(n, int(memory_mb * 2**20 // per)))


def balanced_chunks(gi: int, cells: list, cap: int, multiple: int, sel: tuple | None = None) -> list[Chunk]:
    """``cells`` cut into ``ceil(n / cap)`` chunks of (nearly) equal size, all padded to one
    size, rounded up to a multiple of ``multiple`` (the device count)."""
    k = -(-len(cells) // cap)
    size = -(-len(cells) // k)
    size = -(-size // multiple) * multiple
    bounds = np.linspace(0, len(cells), k + 1).round().astype(int)
    return [Chunk(index=0, group=gi, cells=cells[a:b], size=size, sel=sel) for a, b in zip(bounds[:-1], bounds[1:])]


@dataclass(frozen=True)
class Unit:
    """A share of the work of a sharded run: cells ``cells`` (indices into the group's cells)
    of group ``group``, at the nested values ``sel`` (``None``: all), estimated ``cost``."""

    group: int
    cells: tuple
    sel: tuple | None
    cost: float


def _sub_group(g: Group, sel: tuple | None) -> Group:
    return g if sel is None else Group(static=g.static, nested=nested_values(g, sel), cells=g.cells)


def _split(p: Plan, u: Unit, limit: float, cost_of) -> list[Unit] | None:
    """``u`` in parts, or ``None`` when no split makes it cheaper. Several cells: cut into
    ``ceil(cost / limit)`` runs of (nearly) equal numbers of cells (each cell costs the same).
    One cell: cut in two along the nested axis and at the place that make the dearer half
    cheapest (ties: the cheaper pair, then the more even cut, then the first axis), each half's
    cost re-estimated (``c1``, ``c2``); kept whole unless the split saves more on the dearest
    unit than it adds in all, ``c - max(c1, c2) > c1 + c2 - c`` (a half repeats the work the
    nested values share: a factorisation of the largest size, a training run to the last
    recorded step)."""
    n = len(u.cells)
    if n > 1:
        k = min(n, max(2, math.ceil(u.cost / limit)))
        bounds = np.linspace(0, n, k + 1).round().astype(int)
        per = u.cost / n
        return [Unit(u.group, u.cells[a:b], u.sel, per * int(b - a)) for a, b in zip(bounds[:-1], bounds[1:])]
    g = p.groups[u.group]
    sel = u.sel or tuple((0, len(v)) for v in g.nested.values())
    best = None
    for ax, (a, b) in enumerate(sel):
        for m in range(a + 1, b):
            halves = [sel[:ax] + ((lo, hi),) + sel[ax + 1:] for lo, hi in ((a, m), (m, b))]
            costs = [cost_of(u.group, h) for h in halves]
            key = (max(costs), sum(costs), abs((m - a) - (b - m)), ax)
            if best is None or key < best[0]:
                best = (key, halves, costs)
    if best is None or u.cost - best[0][0] <= best[0][1] - u.cost:
        return None
    return [Unit(u.group, u.cells, h, c) for h, c in zip(best[1], best[2])]


def partition(p: Plan, n: int) -> list[list[Unit]]:
    """The work of the plan cut into the shares of ``n`` processes, of about equal estimated cost.

    Units start as whole groups, each of cost ``n_g c_g`` (``n_g`` cells of
    :func:`cell_cost` ``c_g``). While the dearest unit costs more than ``C / (2 n)`` (``C``, the
    total) it is split (:func:`_split`): into runs of cells, or, a single cell, in two along a
    nested axis when that makes it cheaper (each half's cost is re-estimated, so ``C`` may
    grow: a half repeats the work the nested values shared). The units are then dealt longest
    first (LPT: in order of decreasing cost, ties by group, first cell and selection, each to
    the share with the least cost so far, ties to the lowest index). With every unit at most
    ``C / (2 n)`` the dearest share costs at most ``C / n + C / (2 n)`` (Graham 1969).

    A function of the plan and ``n`` only (not of what is stored, nor of the memory budget), so
    every process of a sharded run computes the same partition and a process restarted after a
    kill owes exactly what it did. ``n = 1``: one unit per group, unsplit.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    memo: dict = {}

    def cost_of(gi, sel):
        key = (gi, sel)
        if key not in memo:
            memo[key] = cell_cost(p.model, _sub_group(p.groups[gi], sel))
        return memo[key]

    units = [Unit(gi, tuple(range(len(g.cells))), None, len(g.cells) * cost_of(gi, None))
             for gi, g in enumerate(p.groups) if g.cells]
    if n == 1:
        return [units]
    import heapq

    order = lambda u: (-u.cost, u.group, u.cells[0], u.sel or ())  # noqa: E731
    heap = [(order(u), u) for u in units]
    heapq.heapify(heap)
    total = sum(u.cost for u in units)
    final = []
    while heap and heap[0][1].cost > total / (2 * n):
        _, u = heapq.heappop(heap)
        parts = _split(p, u, total / (2 * n), cost_of)
        if parts is None:
            final.append(u)
            continue
        total += sum(q.cost for q in parts) - u.cost
        for q in parts:
            heapq.heappush(heap, (order(q), q))
    units = sorted(final + [u for _, u in heap], key=order)
    shares: list[list[Unit]] = [[] for _ in range(n)]
    load = [0.0] * n
    for u in units:
        i = min(range(n), key=lambda i: (load[i], i))
        shares[i].append(u)
        load[i] += u.cost
    return shares


def schedule(p: Plan, done: set, memory_mb: float, part: tuple[int, int] = (0, 1), *,
             multiple: int = 1) -> list[Chunk]:
    """Cut the cells with missing rows into balanced chunks; return this ``part``'s share.

    ``part = (i, n)``: process ``i`` computes share ``i`` of :func:`partition` (``n = 1``:
    everything). Within its share, the cells of a group (at the same nested values) with a row
    not in ``done`` are split into ``k = ceil(m / cap)`` chunks of (nearly) equal size, ``cap``
    being the most cells the memory budget allows; every chunk of a group is padded to the same
    size (one compile), a multiple of ``multiple`` (the number of devices the chunk is sharded
    over). The share does not depend on what is already stored: a process killed and
    restarted computes exactly what it still owes, whatever the others stored meanwhile.
    """
    i_part, n_part = part
    if not (n_part >= 1 and 0 <= i_part < n_part):
        raise ValueError(f"part must be (i, n) with 0 <= i < n, got {part}")
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    todo: dict = {}  # (group, sel) -> missing cells, in the group's order
    for u in partition(p, n_part)[i_part]:
        cells = p.groups[u.group].cells
        mine = [cells[j] for j in u.cells if any(p.hashes[ri] not in done for ri, _ in selected_rows(cells[j], u.sel))]
        if mine:
            todo.setdefault((u.group, u.sel), []).extend(mine)
    chunks: list[Chunk] = []
    for (gi, sel), cells in sorted(todo.items(), key=lambda kv: (kv[0][0], kv[0][1] or ())):
        order = {id(c): j for j, c in enumerate(p.groups[gi].cells)}
        cells = sorted(cells, key=lambda c: order[id(c)])
        chunks += balanced_chunks(gi, cells, max_cells(p.model, _sub_group(p.groups[gi], sel), memory_mb), multiple, sel)
    for k, ch in enumerate(chunks):
        ch.index = k
    return chunks


def recut(chunks: list[Chunk], at: int, cap: int, multiple: int) -> list[Chunk]:
    """``chunks`` with the cells of ``chunks[at]``'s group (at its nested values), from ``at``
    on, cut again into chunks of at most ``cap`` cells (:func:`balanced_chunks`, one size); the
    chunks of other groups keep their order after them."""
    head = chunks[at]
    key = (head.group, head.sel)
    cells = [cell for c in chunks[at:] if (c.group, c.sel) == key for cell in c.cells]
    out = (chunks[:at] + balanced_chunks(head.group, cells, cap, multiple, head.sel)
           + [c for c in chunks[at:] if (c.group, c.sel) != key])
    for k, ch in enumerate(out):
        ch.index = k
    return out


class ProgressCutter:
    """Cuts a run's chunks so that its progress bar moves about every ``seconds``, from the speed
    the run measures, and stops as soon as cutting makes the run slower.

    The speed of a group (at its nested values) is ``r`` = seconds per unit of estimated cost
    (:func:`cell_cost`) of its last chunk at the scheduled size, compilation excluded
    (:func:`compile_seconds`). Once a group has one such measurement, a later chunk of it
    predicted to take ``r * size * cost > seconds`` is cut, with the rest of the group, into
    chunks of ``floor(seconds / (r * cost))`` cells (:func:`recut`; one more compilation). The
    first cut chunk of the run is a trial: when its speed is more than ``TOLERANCE`` slower than
    the group's at full size (vmapping several small cells is faster per cell than one cell at
    a time), the rest of the group goes back to the scheduled size and nothing more is cut in
    this run. So cutting costs at most one chunk of about ``seconds`` at the smaller size. A
    group that is one chunk, or whose first chunk is running, moves the bar only when done.
    """

    TOLERANCE = 0.05

    def __init__(self, seconds: float, multiple: int):
        self.seconds, self.multiple = seconds, multiple
        self.on = seconds > 0
        self.full: dict = {}  # (group, sel) -> speed at the scheduled size
        self.cut: dict = {}  # (group, sel) -> scheduled chunk size, for groups cut
        self.trial = True  # the first cut chunk of the run is not yet measured

    def before(self, chunks: list[Chunk], k: int, cost: float) -> list[Chunk]:
        """``chunks``, with ``chunks[k]`` and the rest of its group cut if predicted too long."""
        ch = chunks[k]
        key = (ch.group, ch.sel)
        r = self.full.get(key)
        if not self.on or key in self.cut or r is None or r * ch.size * cost <= self.seconds:
            return chunks
        cap = max(1, int(self.seconds / (r * cost)))
        if cap >= len(ch.cells):
            return chunks
        self.cut[key] = ch.size
        return recut(chunks, k, cap, self.multiple)

    def after(self, chunks: list[Chunk], k: int, speed: float) -> list[Chunk]:
        """Record the speed of ``chunks[k]`` (seconds per unit of cost); undo the cutting when
        the run's first cut chunk was slower than its group at full size."""
        ch = chunks[k]
        key = (ch.group, ch.sel)
        if key not in self.cut:
            self.full[key] = speed
            return chunks
        if self.trial:
            self.trial = False
            if speed > (1 + self.TOLERANCE) * self.full[key]:
                self.on = False
                if k + 1 < len(chunks) and (chunks[k + 1].group, chunks[k + 1].sel) == key:
                    return recut(chunks, k + 1, self.cut[key], self.multiple)
        return chunks


_COMPILE_SECONDS = [0.0, False]  # seconds JAX spent compiling in this process; listener registered


def compile_seconds() -> float:
    """Seconds JAX has spent tracing, lowering and compiling in this process since the first call
    (the ``/jax/core/compile/*`` duration events of ``jax.monitoring``)."""
    if not _COMPILE_SECONDS[1]:
        import jax

        def listen(name, secs, **_):
            if name.startswith("/jax/core/compile/"):
                _COMPILE_SECONDS[0] += secs

        jax.monitoring.register_event_duration_secs_listener(listen)
        _COMPILE_SECONDS[1] = True
    return _COMPILE_SECONDS[0]


_PROGRAMS: dict = {}  # (id(model), static, nested, x64, devices) -> (model, jitted program, trace counter)


def _sharding(devices: list):
    """``NamedSharding`` of the chunk (cell) axis over ``devices``: a sweep is embarrassingly
    parallel, so each device evaluates its block of cells with no communication."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    return NamedSharding(Mesh(np.asarray(devices), ("cells",)), PartitionSpec("cells"))


def _program(model: Model, static: dict, nested: dict, devices: list | None = None) -> Callable:
    """``jit(vmap(evaluate))`` for one group, its cell axis sharded over ``devices`` (default:
    every local device), cached across runs in this process.

    Keyed by the model object itself (not its name: a re-registered model gets new programs),
    the group's static values, its nested values, the 64-bit mode, the default matmul precision,
    the devices and the draw precision (:func:`toyscale.models.base.draws_in`).
    """
    import jax

    from toyscale.models.base import draw_precision

    devices = devices or local_devices()
    key = (id(model), json.dumps(static, sort_keys=True, default=str), json.dumps(nested, default=str),
           bool(jax.config.jax_enable_x64), jax.config.jax_default_matmul_precision, tuple(d.id for d in devices),
           draw_precision())
    hit = _PROGRAMS.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]
    traces = [0]

    def one(dyn, seed):
        traces[0] += 1  # runs at trace time only: counts compilations
        return model.evaluate(static, nested, dyn, jax.random.key(seed))

    shard = _sharding(devices)
    if model.sequential_for(static):
        # Each device runs its block of cells through an UNBATCHED lax.map of one cell, so one
        # cell's arithmetic never sees the chunk size -- and the cell's own control flow stays
        # control flow: under vmap (even over a size-1 device axis) every lax.cond becomes a
        # select that evaluates both branches, e.g. an early-stopped optimiser would keep
        # computing and a diagnostic taken at a few recorded steps would run at every step
        # (measured: 3.8x slower on the lottery benchmark). shard_map hands each device its
        # block without a batch axis; check_vma is off because the model code is written for
        # one cell (its conds mix constants and per-cell values, which the varying-axis type
        # check rejects) and nothing crosses devices.
        def per_device(dyn, seeds):
            return jax.lax.map(lambda c: one(*c), (dyn, seeds))

        if len(devices) == 1:
            batched = per_device
        else:
            from jax.sharding import PartitionSpec

            batched = jax.shard_map(per_device, mesh=shard.mesh, in_specs=PartitionSpec("cells"),
                                    out_specs=PartitionSpec("cells"), check_vma=False)
    else:
        batched = jax.vmap(one)
    _PROGRAMS[key] = (model, jax.jit(batched, in_shardings=shard, out_shardings=shard), traces)
    return _PROGRAMS[key][1]


def _compiles() -> int:
    return sum(t[0] for _, _, t in _PROGRAMS.values())


def _inputs(p: Plan, chunk: Chunk, devices: list | None = None):
    import jax

    devices = devices or local_devices()
    if chunk.size % len(devices):
        raise ValueError(f"chunk size {chunk.size} is not a multiple of the {len(devices)} devices")
    shard = _sharding(devices)
    padded = chunk.cells + [chunk.cells[-1]] * (chunk.size - len(chunk.cells))
    dyn = {n: jax.device_put(np.asarray([c.dyn[n] for c in padded], dtype=dt), shard) for n, dt in p.dtypes.items()}
    seeds = jax.device_put(np.asarray([c.seed for c in padded], dtype=np.uint32), shard)
    return dyn, seeds


def check_outputs(p: Plan, nested: dict, program: Callable, dyn, seeds) -> None:
    """Verify with ``jax.eval_shape`` (no compute) that ``evaluate`` returns every required
    metric with the ``nested`` axes (the values the call evaluates) as leading dimensions; a
    model bug, reported before any run."""
    import jax

    shapes = jax.eval_shape(program, dyn, seeds)
    lead = (len(seeds),) + tuple(len(v) for v in nested.values())
    for m in p.model.metrics:
        if m.name not in shapes:
            if m.optional:
                continue
            raise ValueError(f"model {p.model.name}: evaluate returned no metric {m.name!r}")
        if tuple(shapes[m.name].shape[: len(lead)]) != lead:
            raise ValueError(f"model {p.model.name}: metric {m.name!r} has shape {shapes[m.name].shape}; "
                             f"expected leading dimensions {lead} (chunk, nested axes)")


def execute(p: Plan, chunk: Chunk, devices: list | None = None) -> dict[str, np.ndarray]:
    """Evaluate one chunk: ``jit(vmap(evaluate))`` over its (padded) cells, sharded over
    ``devices`` (default: every local device); host arrays back."""
    g = p.groups[chunk.group]
    nested = chunk.nested(g)
    program = _program(p.model, g.static, nested, devices)
    dyn, seeds = _inputs(p, chunk, devices)
    check_outputs(p, nested, program, dyn, seeds)
    return {k: np.asarray(v) for k, v in program(dyn, seeds).items()}


def assemble(p: Plan, chunk: Chunk, res: dict, done: set) -> dict[str, list]:
    """Columns of the chunk's rows not yet stored: parameters, seed, hash, group, metrics, status."""
    model = p.model
    names = model.status_names
    cols: dict[str, list] = {n: [] for n in model.param_names}
    cols.update(seed=[], config_hash=[], status=[], group=[])
    for m in model.metrics:
        cols[m.name] = []
    for ci, cell in enumerate(chunk.cells):
        for ri, idx in chunk.rows(cell):
            h = p.hashes[ri]
            if h in done:
                continue
            row = p.rows[ri]
            for n in model.param_names:
                cols[n].append(row[n])
            cols["seed"].append(row["seed"])
            cols["config_hash"].append(h)
            cols["group"].append(chunk.group)
            finite = True
            for m in model.metrics:
                if m.name not in res:
                    cols[m.name].append(None)
                    continue
                val = res[m.name][(ci,) + idx]
                ok = bool(np.all(np.isfinite(val)))
                if m.optional and not ok:
                    cols[m.name].append(None)
                    continue
                finite &= ok
                cols[m.name].append(val.tolist() if np.ndim(val) else float(val))
            code = int(res["status"][(ci,) + idx]) if "status" in res else 0
            status = names[code] if 0 <= code < len(names) else STATUS_NONFINITE
            if not finite and (status == STATUS_OK or model.all_statuses[names.index(status)].usable):
                status = STATUS_NONFINITE
            cols["status"].append(status)
    for n in model.param_names:
        prm = model.param(n)
        if prm.type is not str:
            cols[n] = np.asarray(cols[n], dtype=np.float64 if (prm.type is float or prm.allow_inf) else np.int64)
    return cols


def write(store: ResultStore, chunk: Chunk, cols: dict) -> None:
    """Write the chunk's rows as one immutable Parquet file (named by group and content)."""
    name = f"g{chunk.group:03d}-" + hashlib.sha256("".join(cols["config_hash"]).encode()).hexdigest()[:16]
    store.write_chunk(name, cols)


@dataclass
class RunSummary:
    """What a run did: rows computed now, rows found done, chunks failed, compilations (programs
    traced and compiled, or fetched from the persistent cache), seconds; ``devices`` it ran on,
    its ``precision``, its ``part`` (i, n), and whether every row of the experiment is now
    stored (``complete``: with several processes, only the last one to finish sees it)."""

    n_rows: int
    computed: int
    skipped: int
    failed_chunks: list
    compiles: int
    seconds: float
    statuses: dict
    devices: int = 1
    platform: str = "cpu"
    precision: str = "float64"
    part: tuple = (0, 1)
    complete: bool = True
    audit: dict | None = None  # the precision audit's record (precision_audit.json); None: not audited


def experiment_meta(exp: Experiment) -> dict:
    """What ``experiment.json`` records: the experiment, its fingerprint, checks and phases."""
    def tables(items):
        return [{k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(c.__dict__, where={k: encode(v) for k, v in c.where.items()}).items()}
                for c in items]

    return {"name": exp.name, "fingerprint": exp.fingerprint(), "experiment": exp.to_dict(),
            "checks": tables(exp.checks), "phases": tables(exp.phases),
            "frontiers": tables(exp.frontiers), "description": exp.description}


def run_experiment(exp: Experiment, out: str | Path, *, progress: bool = True,
                   on_chunk: Callable[[int], None] | None = None, part: tuple[int, int] = (0, 1),
                   devices: list | None = None, progress_seconds: float | None = None) -> RunSummary:
    """Run (or resume) ``exp`` into the result store at ``out``.

    Finished chunks found in ``out`` are skipped; only missing configurations are computed, so
    a run killed at any moment and restarted ends with exactly the rows of an uninterrupted
    run. ``part=(i, n)`` computes process ``i``'s fixed share of the grid (:func:`schedule`);
    any number of processes may write into one ``out`` at once. Each chunk's cells are sharded
    over ``devices`` (default: every local device). ``on_chunk(k)`` is called after the k-th
    chunk is written (used by tests).

    Progress (``progress``, on standard error) counts the estimated cost (:func:`cell_cost`) of
    the chunks written, and the rows. With ``progress_seconds > 0`` (default
    :data:`PROGRESS_SECONDS` when the bar is shown on a terminal, else 0: off) chunks predicted
    to take longer are cut to move the bar about that often, from the speed the run measures,
    unless cutting makes the run slower (:class:`ProgressCutter`). A row never depends on the
    chunking.

    JAX's 64-bit mode and the default matmul precision are set for the duration of the run
    only (:func:`precision_context`), so a float32 run does not change later float64 work.

    The precision audit runs after this (:func:`toyscale.audit.run_audited`, what
    :func:`toyscale.run` and ``toyscale launch`` call).
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    devices = devices or local_devices()
    exp = resolve_precision(exp, devices[0].platform)
    compilation_cache(devices[0].platform)
    prov = provenance.start(exp, devices, part=part)
    with precision_context(exp):
        p = plan(exp)
        store = ResultStore(out)
        store.init({**experiment_meta(exp), "provenance": prov})
        done = store.done_hashes()
        already = sum(1 for h in set(p.hashes) if h in done)
        budget = exp.memory_mb or default_memory_mb()
        if progress_seconds is None:
            progress_seconds = PROGRESS_SECONDS if progress and sys.stderr.isatty() else 0.0
        multiple = len(devices)
        chunks = schedule(p, done, budget, part, multiple=multiple)
        before = _compiles()
        failed, computed, statuses = [], 0, {}
        desc = exp.name if part[1] == 1 else f"{exp.name} [{part[0]}/{part[1]}]"
        costs = {key: cell_cost(p.model, _sub_group(p.groups[key[0]], key[1])) for key in {(c.group, c.sel) for c in chunks}}
        n_todo = sum(1 for ch in chunks for c in ch.cells for ri, _ in ch.rows(c) if p.hashes[ri] not in done)
        bar = tqdm(total=sum(len(c.cells) * costs[c.group, c.sel] for c in chunks) or 1, desc=desc,
                   disable=not progress, file=sys.stderr,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]")
        bar.set_postfix_str(f"0/{n_todo} rows", refresh=False)
        cutter = ProgressCutter(progress_seconds, multiple)
        k = 0
        while k < len(chunks):
            chunks = cutter.before(chunks, k, costs[chunks[k].group, chunks[k].sel])
            chunk = chunks[k]
            cost = costs[chunk.group, chunk.sel]
            t, c0 = time.perf_counter(), compile_seconds()
            try:
                res = execute(p, chunk, devices)
                cols = assemble(p, chunk, res, done)
                write(store, chunk, cols)
            except Exception as e:  # one failing chunk must not stop the sweep
                failed.append({"group": chunk.group, "error": f"{type(e).__name__}: {e}"})
                print(f"toyscale: chunk {chunk.index} (group {chunk.group}) failed: {type(e).__name__}: {e}", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
                bar.update(len(chunk.cells) * cost)
                k += 1
                continue
            speed = max(0.0, time.perf_counter() - t - (compile_seconds() - c0)) / (chunk.size * cost)
            for s in cols["status"]:
                statuses[s] = statuses.get(s, 0) + 1
            computed += len(cols["seed"])
            done.update(cols["config_hash"])
            bar.set_postfix_str(f"{computed}/{n_todo} rows", refresh=False)
            bar.update(len(chunk.cells) * cost)
            if on_chunk is not None:
                on_chunk(k)
            chunks = cutter.after(chunks, k, speed)
            k += 1
        bar.close()
        complete = done.issuperset(p.hashes) or (part[1] > 1 and store.done_hashes().issuperset(p.hashes))
    seconds, compiles = time.perf_counter() - t0, _compiles() - before  # the run's own, not the audit's
    provenance.write_run(out, provenance.finish(prov, computed=computed, skipped=already, seconds=seconds))
    return RunSummary(n_rows=len(p.rows), computed=computed, skipped=already, failed_chunks=failed,
                      compiles=compiles, seconds=seconds, statuses=statuses,
                      devices=len(devices), platform=devices[0].platform, precision=exp.precision, part=tuple(part),
                      complete=complete)


def chunk_program(p: Plan, chunk: Chunk, devices: list | None = None, cold: bool = False):
    """``(program, args)``: the jitted program of ``chunk``'s group and its inputs, so
    ``program.lower(*args).compile()`` measures a compilation (``cold``: forget this process's
    compiled programs first). For benchmarks."""
    if cold:
        _PROGRAMS.clear()
    g = p.groups[chunk.group]
    return _program(p.model, g.static, chunk.nested(g), devices), _inputs(p, chunk, devices)

