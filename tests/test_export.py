"""Export: the quickstart's rows round-trip through CSV, Parquet and netCDF, and the xarray
grid holds every stored row at its coordinates."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import toyscale
from toyscale.cli import main
from toyscale.errors import UserError
from toyscale.experiment import load_experiment
from toyscale.export import export, to_xarray
from toyscale.store import ResultStore
from toyscale.sweep import run_experiment

xr = pytest.importorskip("xarray")
ROOT = Path(__file__).resolve().parents[1]
METRICS = ["loss", "approx", "excess", "gap"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "quickstart"
    run_experiment(load_experiment(ROOT / "experiments" / "quickstart.toml", quick=True), out, progress=False)
    return out


def _assert_grid_holds_rows(ds, rows):
    assert dict(ds.sizes) == {"width": 12, "samples": 12, "seed": 3}
    assert len(rows) == 12 * 12 * 3
    for m in METRICS:
        got = ds[m].sel(width=xr.DataArray(rows.width.to_numpy()), samples=xr.DataArray(rows.samples.to_numpy()),
                        seed=xr.DataArray(rows.seed.to_numpy())).values
        np.testing.assert_array_equal(got, rows[m].to_numpy(float))  # NaN == NaN for the null gap
    st = ds["status"].sel(width=xr.DataArray(rows.width.to_numpy()), samples=xr.DataArray(rows.samples.to_numpy()),
                          seed=xr.DataArray(rows.seed.to_numpy())).values
    assert list(st) == list(rows.status)


def test_to_xarray_places_every_row_at_its_coordinates(quick):
    rows = ResultStore(quick).load()
    ds = toyscale.load(quick).to_xarray()
    _assert_grid_holds_rows(ds, rows)
    assert math.isinf(ds.width.values[-1]) and ds["loss"].attrs["units"] == "1"
    assert ds.attrs["params.alpha"] == 1.0 and ds.attrs["toyscale.model"] == "random_features"
    # a grid without group-by: the width check's slice is one selection
    curve = ds["loss"].sel(samples=math.inf).mean("seed")
    ref = rows[rows.samples == math.inf].groupby("width")["loss"].mean()
    np.testing.assert_allclose(curve.values, ref.to_numpy(), rtol=1e-14)


def test_netcdf_round_trip(quick, tmp_path):
    rows = ResultStore(quick).load()
    assert main(["export", str(quick), "--format", "netcdf", "--to", str(tmp_path / "q.nc")]) == 0
    back = xr.open_dataset(tmp_path / "q.nc", engine="scipy").load()
    _assert_grid_holds_rows(back, rows)
    ref = to_xarray(quick)
    for m in METRICS:
        np.testing.assert_array_equal(back[m].values, ref[m].values)
    assert back["loss"].attrs["description"] == ref["loss"].attrs["description"]


def test_csv_and_parquet_round_trip(quick, tmp_path):
    rows = ResultStore(quick).load().sort_values("config_hash").reset_index(drop=True)
    for fmt in ("csv", "parquet"):
        path = export(quick, fmt)
        assert path == quick / "export" / f"rows.{fmt}"
        back = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
        back = back.sort_values("config_hash").reset_index(drop=True)
        assert list(back.columns) == list(rows.columns)
        for c in rows.columns:
            if not pd.api.types.is_numeric_dtype(rows[c]):
                assert list(back[c]) == list(rows[c]), c
            else:
                np.testing.assert_array_equal(back[c].to_numpy(float), rows[c].to_numpy(float))
    md = pq.read_schema(quick / "export" / "rows.parquet").field("loss").metadata
    assert b"description" in md and b"unit" in md


def test_missing_rows_are_nan_with_status_missing(quick, tmp_path):
    import shutil

    part = tmp_path / "part"
    shutil.copytree(quick, part)
    files = ResultStore(part).chunk_files()
    files[0].unlink()
    ds = to_xarray(part)
    n_missing = int((ds["status"] == "missing").sum())
    assert n_missing == 432 - len(ResultStore(part).load()) > 0
    assert int(ds["loss"].isnull().sum()) == n_missing


def test_unknown_format_is_a_user_error(quick):
    with pytest.raises(UserError, match="allowed: csv, parquet, netcdf"):
        export(quick, "hdf5")
