"""Shards balanced by estimated cost: the partition of a sharded run (``--shard I/N``, ``launch
--array N``), nested splits of a dear cell, and chunks cut for progress. The union of the shards'
rows equals one process's rows, bitwise (a row is a function of its configuration)."""

import io
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from toyscale.experiment import experiment_from_dict, load_experiment
from toyscale.models import get_model, register
from toyscale.params import Param
from toyscale.protocol import Metric, Model
from toyscale.store import ResultStore
from toyscale.sweep import cell_cost, partition, plan, recut, run_experiment, schedule
from toyscale.theory.base import Prediction, Theory

ROOT = Path(__file__).parent.parent


def _rows(out):
    return ResultStore(out).load().sort_values("config_hash").reset_index(drop=True)


def _share_cost(p, chunks):
    """Estimated cost a process computes: its chunks' cells x the cost of one cell at the
    chunk's nested values."""
    from toyscale.sweep import Group

    total = 0.0
    for ch in chunks:
        g = p.groups[ch.group]
        total += len(ch.cells) * cell_cost(p.model, Group(g.static, ch.nested(g), g.cells))
    return total


def _sharded(exp, out, n):
    for i in range(n):
        run_experiment(exp, out, progress=False, part=(i, n))
    return _rows(out)


@pytest.mark.slow  # the default run keeps the associative-memory and split-cell shard tests
def test_two_shards_of_the_quickstart_cost_within_1_5_and_equal_one_process(tmp_path):
    exp = load_experiment(ROOT / "experiments" / "quickstart.toml", quick=True)
    p = plan(exp)
    shares = [schedule(p, set(), 1024, (i, 2)) for i in range(2)]
    cost = [_share_cost(p, s) for s in shares]
    # the old split (blocks dealt round-robin) gave one shard the 3 finite-width cells (396 rows)
    # and the other the 3 width = inf cells (36 rows), whatever they cost
    assert max(cost) / min(cost) <= 1.5, cost
    assert sum(cost) == pytest.approx(sum(len(g.cells) * cell_cost(p.model, g) for g in p.groups))
    rows = [sum(len(ch.rows(c)) for ch in s for c in ch.cells) for s in shares]
    assert sum(rows) == exp.n_configs and min(rows) > 36
    a = _sharded(exp, tmp_path / "sharded", 2)
    run_experiment(exp, tmp_path / "one", progress=False)
    b = _rows(tmp_path / "one")
    assert len(a) == exp.n_configs and a["config_hash"].is_unique
    pd.testing.assert_frame_equal(a, b)  # bitwise, the group column included


def test_three_shards_of_the_associative_memory_example_equal_one_process(tmp_path):
    m = get_model("associative_memory")
    exp = experiment_from_dict({"model": m.name, **m.example, "seeds": 3}, name="assoc")
    p = plan(exp)
    parts = [schedule(p, set(), 1024, (i, 3)) for i in range(3)]
    assert all(parts), "every shard has work"
    a = _sharded(exp, tmp_path / "sharded", 3)
    run_experiment(exp, tmp_path / "one", progress=False)
    pd.testing.assert_frame_equal(a, _rows(tmp_path / "one"))


# A model whose cost is the count of nested results (no cell_bytes) and whose values at one
# nested point are a closed form of that point: splitting a cell along a nested axis is exact.
def _grid_eval(static, nested, dyn, key):
    a = jnp.asarray(nested["a"], jnp.float64)[:, None]
    b = jnp.asarray(nested["b"], jnp.float64)[None, :]
    return {"y": dyn["c"] * a ** -0.5 + b ** -1.0 + 0.0 * a * b}


GRID = register(Model(
    name="_grid", summary="test model: y = c a^-1/2 + b^-1 on a nested grid",
    params=(Param("c", float, 1.0, "scale"), Param("a", int, 1, "first nested axis", low=1, role="nested"),
            Param("b", int, 1, "second nested axis", low=1, role="nested")),
    metrics=(Metric("y", "value"),), evaluate=_grid_eval,
    theory=Theory(predict=lambda axis, s: Prediction("toy", -0.5, metric="y")), precision="float64"))


GRID_MEM = register(Model(
    name="_grid_mem", summary="test model: _grid with 1 MB per cell", params=GRID.params, metrics=GRID.metrics,
    evaluate=_grid_eval, theory=GRID.theory, precision="float64", cell_bytes=lambda static, nested: 2**20))


def test_a_single_dear_cell_is_split_along_its_nested_axes_and_rows_are_unchanged(tmp_path):
    exp = experiment_from_dict({"model": "_grid", "seeds": 1,
                                "sweep": {"a": list(range(1, 9)), "b": list(range(1, 7))}}, name="grid")
    p = plan(exp)
    assert sum(len(g.cells) for g in p.groups) == 1  # one cell: 48 rows in one call
    shares = partition(p, 4)
    units = [u for s in shares for u in s]
    assert len(units) >= 4 and all(u.sel is not None for u in units)
    # the pieces tile the grid: every nested point once
    points = [(i, j) for u in units for i in range(*u.sel[0]) for j in range(*u.sel[1])]
    assert sorted(points) == [(i, j) for i in range(8) for j in range(6)]
    # cost = number of nested results, additive: the four shares hold 48 results within 1.5x
    loads = [sum(u.cost for u in s) for s in shares]
    assert sum(loads) == 48 and max(loads) / min(loads) <= 1.5, loads
    assert partition(p, 4) == shares  # deterministic
    a = _sharded(exp, tmp_path / "sharded", 4)
    run_experiment(exp, tmp_path / "one", progress=False)
    pd.testing.assert_frame_equal(a, _rows(tmp_path / "one"))
    expect = a["c"] * a["a"].astype(float) ** -0.5 + a["b"].astype(float) ** -1.0
    np.testing.assert_allclose(a["y"], expect, rtol=1e-15)


def test_a_nested_split_that_repeats_the_shared_work_is_not_made():
    # The quickstart's cells cost what their largest width and sample size need: no half of a
    # cell is cheaper than the cell, so cells are never cut.
    exp = load_experiment(ROOT / "experiments" / "quickstart.toml", quick=True)
    p = plan(exp)
    for n in (2, 4, 8):
        assert all(u.sel is None for s in partition(p, n) for u in s)


def test_one_process_is_one_unit_per_group_and_shares_are_disjoint():
    exp = experiment_from_dict({"model": "_grid", "seeds": 5, "sweep": {"a": [1, 2, 4], "b": [1, 3], "c": [1.0, 2.0]}},
                               name="grid")
    p = plan(exp)
    (one,) = partition(p, 1)
    assert [(u.group, u.sel, len(u.cells)) for u in one] == [(0, None, 10)]
    for n in (2, 3, 7):
        seen = [(ri, ch.sel) for i in range(n) for ch in schedule(p, set(), 1024, (i, n))
                for c in ch.cells for ri, _ in ch.rows(c)]
        assert sorted(ri for ri, _ in seen) == list(range(exp.n_configs)), n


def test_recut_cuts_the_rest_of_a_group_into_chunks_of_one_size():
    exp = experiment_from_dict({"model": "_grid", "seeds": 40, "sweep": {"a": [1, 2, 4], "b": [1, 3], "c": [1.0, 2.0]}},
                               name="grid")
    p = plan(exp)
    chunks = schedule(p, set(), 1024)
    assert [(c.group, len(c.cells)) for c in chunks] == [(0, 80)]  # 80 cells fit one chunk
    two = recut(chunks, 0, 40, 1)
    cut = recut(two, 1, 10, 1)
    assert cut[0] is two[0] and len(cut) == 5 and {len(c.cells) for c in cut[1:]} == {10}
    assert [c.index for c in cut] == list(range(5))
    assert [id(x) for c in cut for x in c.cells] == [id(x) for x in chunks[0].cells]  # same cells, same order
    assert {c.size for c in recut(two, 1, 10, 4)[1:]} == {12}  # padded to a multiple of the devices


def _chunks(sizes, group=0):
    from toyscale.sweep import Chunk

    return [Chunk(index=k, group=group, cells=[object() for _ in range(n)], size=n) for k, n in enumerate(sizes)]


def test_progress_cutter_cuts_long_chunks_after_measuring_and_stops_when_cutting_is_slower():
    from toyscale.sweep import ProgressCutter

    # a group of 4 chunks of 30 cells of cost 1; speed in seconds per unit of cost
    pc = ProgressCutter(10.0, 1)
    chunks = _chunks([30, 30, 30, 30])
    assert pc.before(chunks, 0, 1.0) is chunks  # nothing measured yet
    chunks = pc.before(pc.after(chunks, 0, 0.1), 1, 1.0)  # predicted 30 x 0.1 s = 3 s: not cut
    assert [len(c.cells) for c in chunks] == [30, 30, 30, 30]
    pc = ProgressCutter(10.0, 1)
    chunks = pc.after(_chunks([30, 30, 30, 30]), 0, 1.0)  # 1 s per cell: a chunk takes 30 s
    chunks = pc.before(chunks, 1, 1.0)
    assert [len(c.cells) for c in chunks] == [30] + [10] * 9  # the rest cut into 10 s chunks
    kept = pc.after(chunks, 1, 1.04)  # the trial chunk: 4 % slower, within the tolerance: keep cutting
    assert kept is chunks and pc.on
    pc = ProgressCutter(10.0, 1)
    chunks = pc.before(pc.after(_chunks([30, 30, 30, 30]), 0, 1.0), 1, 1.0)
    back = pc.after(chunks, 1, 1.5)  # 50 % slower per cell at 10 cells: undo and stop
    assert [len(c.cells) for c in back][:2] == [30, 10] and sorted(len(c.cells) for c in back[2:]) == [26, 27, 27]
    assert {c.size for c in back[2:]} == {27}  # back to the scheduled cap: 3 chunks of one size
    assert not pc.on and pc.before(back, 2, 1.0) is back
    off = ProgressCutter(0.0, 1)
    chunks = off.after(_chunks([30, 30]), 0, 1.0)
    assert off.before(chunks, 1, 1.0) is chunks  # progress_seconds = 0: never


def test_chunks_cut_for_progress_give_the_same_rows_and_the_bar_ends_at_all_rows(tmp_path, capsys):
    doc = {"model": "_grid_mem", "seeds": 40, "sweep": {"a": [1, 2, 4], "b": [1, 3]}, "run": {"memory_mb": 10}}
    exp = experiment_from_dict(doc, name="grid")
    assert len(schedule(plan(exp), set(), 10)) == 4  # 10 cells of 1 MB per chunk
    run_experiment(exp, tmp_path / "a", progress=False)
    # after the first chunk every chunk is predicted to take longer than 1e-9 s: one cell per chunk
    # (then back to 10 cells if the trial is slower, which depends on the machine)
    run_experiment(exp, tmp_path / "b", progress=True, progress_seconds=1e-9)
    err = capsys.readouterr().err
    assert "100%" in err and f"{exp.n_configs}/{exp.n_configs} rows" in err
    assert len(ResultStore(tmp_path / "a").chunk_files()) == 4
    assert len(ResultStore(tmp_path / "b").chunk_files()) > 4
    pd.testing.assert_frame_equal(_rows(tmp_path / "a"), _rows(tmp_path / "b"))


def test_chunks_are_cut_for_progress_only_on_a_terminal(tmp_path, monkeypatch):
    from toyscale import sweep

    exp = experiment_from_dict({"model": "_grid", "seeds": 4, "sweep": {"a": [1, 2], "b": [1]}}, name="grid")
    seen = []

    class Spy(sweep.ProgressCutter):
        def __init__(self, seconds, multiple):
            seen.append(seconds)
            super().__init__(seconds, multiple)

    monkeypatch.setattr(sweep, "ProgressCutter", Spy)
    tty = io.StringIO()
    tty.isatty = lambda: True
    monkeypatch.setattr("sys.stderr", tty)
    run_experiment(exp, tmp_path / "tty", progress=True)
    run_experiment(exp, tmp_path / "quiet", progress=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    run_experiment(exp, tmp_path / "log", progress=True)
    assert seen == [sweep.PROGRESS_SECONDS, 0.0, 0.0]
