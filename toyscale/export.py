"""Export a results directory: one CSV or Parquet file of its rows, or a netCDF grid; and the
rows as an :class:`xarray.Dataset` indexed by the swept axes and the seed.

The store keeps rows in long format (one row per configuration, :mod:`toyscale.store`). A
researcher who wants "loss as an array over width x samples x seed" would otherwise pivot it
by hand, and a pivot on one axis silently averages over the others. :func:`to_xarray` places
every stored row at its coordinates on the full grid of the experiment (``experiment.json``'s
sweep and seeds); a configuration not stored (an unfinished shard) is NaN with status
``"missing"``.

netCDF is written by SciPy's netCDF 3 writer (``xarray`` engine ``"scipy"``): SciPy is already a
core dependency, where h5netcdf or netCDF4 would add h5py/HDF5 for a format feature (groups,
compression, int64) these grids do not need. netCDF 3 has no 64-bit integers: the ``seed``
coordinate is stored as int32 (seeds are below 2^31 by the experiment's rules).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from toyscale.errors import UserError
from toyscale.store import atomic_write

FORMATS = ("csv", "parquet", "netcdf")
SUFFIX = {"csv": ".csv", "parquet": ".parquet", "netcdf": ".nc"}
#: Status of a grid point with no stored row.
MISSING = "missing"


def _dir(source) -> Path:
    """A results directory from a path or a :class:`toyscale.api.Results`-like object (``.dir``)."""
    d = getattr(source, "dir", source)
    return Path(d)


def _unjson(v):
    return math.inf if v == "inf" else v


def load_rows(source):
    """``(rows, meta)``: the de-duplicated rows of a results directory (pandas) and its
    ``experiment.json``."""
    from toyscale.store import ResultStore

    store = ResultStore(_dir(source))
    meta = store.read_meta()
    return store.load(), meta


def grid_axes(meta: dict) -> dict:
    """``{axis: values}`` of the experiment's grid: every swept axis in the experiment's order,
    then ``seed``. Numeric values as floats (the store's type), ``inf`` included."""
    exp = meta["experiment"]
    axes = {}
    for k, vals in exp.get("sweep", {}).items():
        vals = [_unjson(v) for v in vals]
        axes[k] = [v if isinstance(v, str) else float(v) for v in vals]
    axes["seed"] = [int(s) for s in exp["seeds"]]
    return axes


def to_xarray(source, metrics=None):
    """The rows of ``source`` (a results directory or ``Results``) as an ``xarray.Dataset``.

    Dimensions: the swept axes (values from ``experiment.json``, in sweep order) and ``seed``.
    Data variables: each metric (``metrics``: a subset; default all; a vector metric gets one
    more dimension ``METRIC_index``), ``status`` (``"missing"`` where no row is stored) and
    ``config_hash``. Fixed parameters are attributes ``params.NAME``; the model, fingerprint and
    each column's description and unit (from the Parquet schema metadata) are attributes too.

    Needs ``xarray`` (``pip install 'toyscale[xarray]'``).
    """
    try:
        import xarray as xr
    except ImportError:
        raise UserError("xarray", "xarray is not installed; allowed: pip install 'toyscale[xarray]'") from None
    from toyscale.models import get_model
    from toyscale.store import column_docs

    df, meta = load_rows(source)
    model = get_model(meta["experiment"]["model"])
    docs = column_docs(model)
    axes = grid_axes(meta)
    names = [m.name for m in model.metrics]
    if metrics is not None:
        bad = [m for m in metrics if m not in names]
        if bad:
            raise UserError("metrics", f"unknown metric {bad[0]!r}; allowed: {', '.join(names)}")
        names = list(metrics)
    shape = tuple(len(v) for v in axes.values())
    pos = []
    ok = np.ones(len(df), bool)
    for k, vals in axes.items():
        col = df[k] if len(df) else []
        index = {v: i for i, v in enumerate(vals)}
        p = np.array([index.get(v if isinstance(v, str) else (int(v) if k == "seed" else float(v)), -1) for v in col],
                     dtype=np.int64)
        ok &= p >= 0
        pos.append(p)
    where = tuple(p[ok] for p in pos)
    rows = df[ok] if len(df) else df
    data = {}
    for name in names:
        col = list(rows[name]) if len(rows) else []
        sample = next((np.asarray(v, float) for v in col if v is not None and not _isnan(v)), np.zeros(()))
        trail = sample.shape
        arr = np.full(shape + trail, np.nan)
        if len(col):
            vals = np.stack([np.full(trail, np.nan) if (v is None or _isnan(v)) else np.asarray(v, float) for v in col])
            arr[where] = vals
        dims = list(axes) + [f"{name}_index{i if i else ''}" for i in range(len(trail))]
        attrs = {"description": docs[name]["description"], "units": docs[name]["unit"], "kind": docs[name]["kind"]}
        data[name] = (dims, arr, attrs)
    for name in ("status", "config_hash"):
        arr = np.full(shape, MISSING if name == "status" else "", dtype=object)
        if len(rows):
            arr[where] = rows[name].astype(str).to_numpy()
        data[name] = (list(axes), arr.astype(str), {"description": docs[name]["description"]})
    coords = {}
    for k, vals in axes.items():
        d = docs.get(k, {"description": "", "unit": ""})
        coords[k] = (k, np.asarray(vals, dtype=object if vals and isinstance(vals[0], str) else None),
                     {"description": d["description"], "units": d["unit"]})
    exp = meta["experiment"]
    attrs = {"toyscale.model": exp["model"], "toyscale.fingerprint": meta.get("fingerprint", ""),
             "toyscale.experiment": meta.get("name", ""), "toyscale.precision": exp.get("precision", "")}
    for k, v in exp.get("params", {}).items():
        if k not in axes:
            attrs[f"params.{k}"] = v if isinstance(v, (int, float, str)) and not isinstance(v, bool) else json.dumps(v)
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    for k in axes:
        if ds[k].dtype == object:
            ds[k] = ds[k].astype(str)
    return ds


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _write(path: Path, data: bytes | str) -> Path:
    """``data`` written to ``path`` through the store's one atomic writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    return path


def export(source, format: str = "csv", path=None) -> Path:
    """Write the rows of ``source`` (a results directory or ``Results``) as one file; return it.

    ``format``: ``"csv"`` (long format, ``inf`` written as ``inf``), ``"parquet"`` (long format,
    the store's schema with column descriptions and units) or ``"netcdf"`` (the grid of
    :func:`to_xarray`, netCDF 3 through SciPy). ``path`` defaults to ``DIR/export/rows.EXT``.
    The file is written to a temporary name and renamed.
    """
    if format not in FORMATS:
        raise UserError("--format", f"unknown format {format!r}; allowed: {', '.join(FORMATS)}")
    d = _dir(source)
    path = Path(path) if path is not None else d / "export" / f"rows{SUFFIX[format]}"
    if format == "netcdf":
        ds = to_xarray(d)
        for k in ds.coords:  # netCDF 3 has no int64
            if ds[k].dtype == np.int64:
                ds = ds.assign_coords({k: ds[k].astype(np.int32)})
        return _write(path, ds.to_netcdf(engine="scipy", format="NETCDF3_64BIT"))
    df, meta = load_rows(d)
    if format == "csv":
        return _write(path, df.to_csv(index=False))
    import pyarrow as pa
    import pyarrow.parquet as pq

    from toyscale.models import get_model
    from toyscale.store import chunk_table

    table = chunk_table({c: df[c].tolist() for c in df.columns}, get_model(meta["experiment"]["model"]))
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    return _write(path, buf.getvalue().to_pybytes())


def add_parser(sub) -> None:
    """Add ``toyscale export DIR --format csv|parquet|netcdf [--to PATH]`` to the CLI's subparsers."""
    p = sub.add_parser("export", help="write a run's rows as one CSV or Parquet file, or a netCDF grid",
                       description="Export the de-duplicated rows of a results directory: long-format CSV or "
                                   "Parquet, or a netCDF grid indexed by the swept axes and seed (needs xarray).")
    p.add_argument("dir", help="output directory of a run")
    p.add_argument("--format", default="csv", metavar="{" + ",".join(FORMATS) + "}",
                   help="file format (default: csv)")
    p.add_argument("--to", default=None, metavar="PATH", help="output file (default: DIR/export/rows.EXT)")
    p.set_defaults(func=cli)


def cli(args) -> int:
    """``toyscale export``: one line naming the file written."""
    out = export(args.dir, args.format, args.to)
    print(f"wrote {out}", file=sys.stderr)
    return 0
