"""The documented store: column types, descriptions and units in the Parquet schema, typed
nulls, and the docs/store.md DuckDB example run against the quickstart."""

import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toyscale.experiment import load_experiment
from toyscale.models import get_model, list_models
from toyscale.store import COMMON_COLUMNS, ResultStore, chunk_table, describe_columns
from toyscale.sweep import run_experiment

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "quickstart"
    run_experiment(load_experiment(ROOT / "experiments" / "quickstart.toml", quick=True), out, progress=False)
    return out


def test_every_column_is_described_with_a_unit(quick):
    cols = describe_columns(quick)
    model = get_model("random_features")
    assert set(cols["column"]) == {*model.param_names, *COMMON_COLUMNS, *(m.name for m in model.metrics)}
    assert (cols["description"].str.len() > 0).all()
    by = cols.set_index("column")
    assert by.loc["width", "unit"] == "count" and by.loc["width", "kind"] == "parameter/nested"
    assert by.loc["loss", "kind"] == "metric" and by.loc["teacher", "unit"] == "category"
    assert by.loc["width", "description"] == model.param("width").doc


def test_inapplicable_metric_is_a_typed_null(quick):
    # the ridge learner has no training time: `gap` does not apply to any quickstart row
    for f in ResultStore(quick).chunk_files():
        schema = pq.read_schema(f)
        assert schema.field("gap").type == pa.float64()
        assert not any(pa.types.is_null(t) for t in schema.types)
    assert ResultStore(quick).load()["gap"].isna().all()


@pytest.mark.parametrize("name", list_models())
def test_one_type_per_axis_in_every_model(name):
    model = get_model(name)
    cols = {p.name: np.asarray([p.default if p.type is not str else p.choices[0]] * 2,
                               dtype=object if p.type is str else (np.float64 if p.type is float or p.allow_inf
                                                                   else np.int64))
            for p in model.params}
    cols.update(seed=[0, 1], config_hash=["a", "b"], status=["ok", "ok"], group=[0, 0])
    cols.update({m.name: [None, None] for m in model.metrics})
    schema = chunk_table(cols, model).schema
    for p in model.params:
        assert schema.field(p.name).type == (pa.string() if p.type is str else pa.float64()), p.name
    for m in model.metrics:
        assert schema.field(m.name).type == pa.float64()
    assert schema.field("seed").type == pa.int64() and schema.metadata[b"toyscale.model"] == name.encode()


def _doc_example() -> str:
    text = (ROOT / "docs" / "store.md").read_text()
    code = re.search(r"```python\n(import duckdb.*?)```", text, re.S)
    assert code, "docs/store.md lost its DuckDB example"
    return code.group(1)


def test_docs_duckdb_example_runs_on_the_quickstart(quick):
    duckdb = pytest.importorskip("duckdb")  # a test-only dependency (the `test` extra)
    ns = {}
    exec(_doc_example().replace("out/quickstart", str(quick)), ns)
    rows = ns["rows"]
    df = ResultStore(quick).load()
    ref = df[(df.samples == math.inf) & (df.status == "ok")].groupby("width")["loss"].agg(["mean", "count"])
    assert [r[0] for r in rows] == list(ref.index)
    np.testing.assert_allclose([r[1] for r in rows], ref["mean"], rtol=1e-12)
    assert [r[2] for r in rows] == list(ref["count"]) == [3] * len(rows)
    assert duckdb is not None
