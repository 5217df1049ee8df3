"""Result store: one immutable Parquet file per finished chunk, written atomically.

Layout of an output directory::

    DIR/experiment.json    the resolved experiment (what is computed) and its fingerprint
    DIR/chunks/*.parquet   long-format rows: every coordinate, seed, config_hash, metrics, status
    DIR/summary.json, DIR/report.md, DIR/figures/   written by the report

A chunk is written to a temporary name in the same directory, flushed to disk and renamed, so a
reader (or a resumed run) sees either the whole chunk or nothing. Resuming = reading the
``config_hash`` column of the finished chunks and computing only the configurations missing.

Many processes may write into one directory at once (``toyscale run --shard I/N``, a Slurm job
array). Temporary names carry the writer's host and process id,
``.NAME.HOST.PID.RANDOM.tmp``; a starting run removes only temporary files that are certainly
dead: those of its own host whose process no longer exists, and any older than
:data:`STALE_TMP_S` (a chunk is written in well under a second; another host's processes
cannot be asked). Chunk names are fixed by their content, so two processes that happen to
compute the same chunk write the same file; rows stored twice under other chunkings are one
row on :meth:`ResultStore.load` (de-duplicated by ``config_hash``).
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from toyscale.errors import UserError

#: Age (seconds) after which any temporary chunk file is taken as left by a dead writer.
STALE_TMP_S = 3600.0


def _host() -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in socket.gethostname()) or "host"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def _stale(path: Path, now: float) -> bool:
    """A temporary chunk file whose writer is certainly gone (see the module docstring)."""
    parts = path.name.split(".")  # ['', NAME, HOST, PID, RANDOM, 'tmp']
    try:
        if now - path.stat().st_mtime > STALE_TMP_S:
            return True
    except FileNotFoundError:
        return False
    if len(parts) == 6 and parts[2] == _host() and parts[3].isdigit():
        return int(parts[3]) != os.getpid() and not _pid_alive(int(parts[3]))
    return False


class ResultStore:
    """An output directory of a sweep (see the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.chunks = self.root / "chunks"
        self.model = None  # set by init(): the model whose declarations document the columns

    @property
    def meta_path(self) -> Path:
        return self.root / "experiment.json"

    def exists(self) -> bool:
        return self.meta_path.exists()

    def read_meta(self) -> dict:
        if self.root.exists() and not self.root.is_dir():
            raise UserError(str(self.root), "is a file; allowed: a results directory written by `toyscale run`")
        try:
            return json.loads(self.meta_path.read_text())
        except FileNotFoundError:
            raise UserError(str(self.root), "no toyscale results here (experiment.json missing); "
                                            "allowed: a results directory written by `toyscale run`") from None
        except (OSError, ValueError) as e:
            raise UserError(str(self.root), f"cannot read experiment.json: {e}") from None

    def init(self, meta: dict) -> None:
        """Create the directory and write ``experiment.json`` (atomically), or verify it matches."""
        self.model = _model_of(meta)
        if self.exists():
            self.remove_stale_tmp()
            old = self.read_meta()
            if old.get("fingerprint") != meta.get("fingerprint"):
                raise UserError("--out", f"{self.root} holds results of a different experiment "
                                         f"({old.get('name')}, fingerprint {old.get('fingerprint')}); "
                                         "use another --out directory")
            if "provenance" in old:  # the environment that created the directory stays on record
                meta = {**meta, "provenance": old["provenance"]}
            if old != meta:  # same computation, e.g. checks edited: keep the newest description
                atomic_write(self.meta_path, json.dumps(meta, indent=2).encode())
            return
        self.chunks.mkdir(parents=True, exist_ok=True)
        atomic_write(self.meta_path, json.dumps(meta, indent=2).encode())

    def remove_stale_tmp(self) -> list[Path]:
        """Delete temporary chunk files of dead writers (killed mid-write; never read); leave
        those of live processes, which may be writing into this directory right now."""
        now, gone = time.time(), []
        for tmp in self.chunks.glob(".*.tmp"):
            if _stale(tmp, now):
                tmp.unlink(missing_ok=True)
                gone.append(tmp)
        return gone

    def chunk_files(self) -> list[Path]:
        if not self.chunks.exists():
            return []
        return sorted(p for p in self.chunks.glob("*.parquet"))

    def done_hashes(self) -> set[str]:
        """``config_hash`` of every stored row."""
        done: set[str] = set()
        for p in self.chunk_files():
            col = pq.read_table(p, columns=["config_hash"]).column("config_hash")
            done.update(col.to_pylist())
        return done

    def write_chunk(self, name: str, columns: dict) -> Path:
        """Write one finished chunk atomically: temp file in the same directory, fsync, rename.

        The columns get the store's schema (:func:`chunk_table`) when the model is known (the
        directory was initialised with :meth:`init`)."""
        table = chunk_table(columns, self.model) if self.model is not None else pa.table(columns)
        final = self.chunks / f"{name}.parquet"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.{_host()}.{os.getpid()}.", suffix=".tmp", dir=self.chunks)
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return final

    def load(self) -> pd.DataFrame:
        """All stored rows as one DataFrame (one row per configuration)."""
        files = self.chunk_files()
        if not files:
            return pd.DataFrame()
        df = pd.concat([pq.read_table(p).to_pandas() for p in files], ignore_index=True)
        # a configuration computed twice (two processes, or a chunk rewritten) is one row
        return df.drop_duplicates("config_hash", keep="first").reset_index(drop=True)


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically: a temporary file in the same
    directory, flushed to disk, then renamed over ``path``; a reader sees the old file or the
    new one, never a part. The one way toyscale writes a result file."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def check_writable(path: str | Path, field: str = "--out") -> None:
    """Raise :class:`UserError` unless ``path`` could be created/written, without creating it."""
    p = Path(path).resolve()
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(field, f"{probe} exists and is not a directory; allowed: a writable directory path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(field, f"cannot write to {probe} (permission denied); allowed: a writable directory path")
    # os.access trusts the mode bits; some file systems refuse anyway (/proc, read-only mounts,
    # root on a squashed NFS): create and remove one empty directory to be sure.
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".toyscale-probe-", dir=probe))
    except OSError as e:
        raise UserError(field, f"cannot create directories in {probe} ({e.strerror or type(e).__name__}); "
                               "allowed: a writable directory path") from None


# --- schema: column types, descriptions and units ------------------------------------------------

#: Format version of the chunk schema (Parquet key ``toyscale.schema_version``).
SCHEMA_VERSION = "1"

#: Columns every store has besides the model's parameters and metrics: ``(arrow type, unit, description)``.
COMMON_COLUMNS = {
    "seed": (pa.int64(), "", "PRNG seed of the configuration (top-level `seeds` of the experiment)"),
    "config_hash": (pa.string(), "", "first 20 hex digits of sha256 of the sorted JSON of the model name, "
                                     "every parameter and the seed: the row's identity; a resumed or sharded run "
                                     "computes only hashes not yet stored"),
    "status": (pa.string(), "", "ok, nonfinite, diverged or a model status (`toyscale list MODEL`); rows are never "
                                "dropped, only labelled"),
    "group": (pa.int64(), "", "index of the compiled program (one per combination of static parameters) that "
                              "computed the row; an execution detail, not a coordinate: query by parameters"),
}


def _model_of(meta: dict):
    """The registered model named in ``experiment.json``'s experiment, or ``None``."""
    name = (meta.get("experiment") or {}).get("model")
    if not isinstance(name, str):
        return None
    from toyscale.models import get_model

    try:
        return get_model(name)
    except UserError:
        return None


def param_unit(p) -> str:
    """The unit of a declared parameter: its ``unit`` if declared, else one read off its type
    (``count`` for integer sizes, ``flag`` for 0/1 switches, ``category`` for strings, ``1``
    (dimensionless) for real numbers)."""
    if getattr(p, "unit", ""):
        return p.unit
    if p.type is str:
        return "category"
    if p.type is int:
        return "flag" if (p.low == 0 and p.high == 1) else "count"
    return "1"


def column_docs(model) -> dict:
    """``{column: {"description", "unit", "kind"}}`` for every column a chunk of ``model`` has.

    ``kind`` is ``parameter/ROLE`` (ROLE: static, dynamic, nested, shape; see
    :mod:`toyscale.params`), ``metric``, ``metric/optional`` (null where it does not apply), or
    ``bookkeeping``. Descriptions come from the model's :class:`~toyscale.params.Param` and
    :class:`~toyscale.models.Metric` docs.
    """
    docs = {}
    for p in model.params:
        docs[p.name] = {"description": p.doc, "unit": param_unit(p), "kind": f"parameter/{p.role}"}
    for name, (_, unit, doc) in COMMON_COLUMNS.items():
        docs[name] = {"description": doc, "unit": unit, "kind": "bookkeeping"}
    for m in model.metrics:
        docs[m.name] = {"description": m.doc, "unit": getattr(m, "unit", "") or "1",
                        "kind": "metric/optional" if m.optional else "metric"}
    return docs


def _metric_type(values) -> pa.DataType:
    """float64 for a scalar metric, list<float64> (nested as deep as the values) for a vector one."""
    depth, v = 0, next((x for x in values if x is not None), None)
    while isinstance(v, (list, tuple)):
        depth += 1
        v = next((x for x in v if x is not None), None) if len(v) else None
    t = pa.float64()
    for _ in range(depth):
        t = pa.list_(t)
    return t


def chunk_table(columns: dict, model) -> pa.Table:
    """The chunk's columns as an Arrow table with the store's schema.

    Types, the same for a column in every model: every numeric parameter is **float64**
    (``width``, ``samples``, ``steps`` take ``inf`` in some models, and float64 holds every
    integer up to 2^53 exactly, far past the engine's 2^31 limit on integer parameters; one type
    lets stores of different models be unioned or joined on an axis); string parameters,
    ``status`` and ``config_hash`` are strings; ``seed`` and ``group`` int64; scalar metrics
    float64 and vector metrics lists of float64. A metric that does not apply to a row is a
    typed null (a float64 null, never Arrow's ``null`` type, even when a whole chunk has none).

    Each field carries ``description``, ``unit`` and ``kind`` metadata (:func:`column_docs`); the
    schema carries ``toyscale.model`` and ``toyscale.schema_version``.
    """
    docs = column_docs(model)
    declared = {p.name: p for p in model.params}
    metrics = {m.name for m in model.metrics}
    fields, arrays = [], []
    for name, values in columns.items():
        if name in declared:
            typ = pa.string() if declared[name].type is str else pa.float64()
        elif name in COMMON_COLUMNS:
            typ = COMMON_COLUMNS[name][0]
        elif name in metrics:
            typ = _metric_type(values)
        else:
            typ = None
        arr = pa.array(values.tolist() if hasattr(values, "tolist") else list(values), type=typ)
        if pa.types.is_null(arr.type):
            arr = arr.cast(pa.float64())
        doc = docs.get(name, {"description": "", "unit": "", "kind": "extra"})
        fields.append(pa.field(name, arr.type, metadata={k: str(v) for k, v in doc.items()}))
        arrays.append(arr)
    meta = {"toyscale.model": model.name, "toyscale.schema_version": SCHEMA_VERSION}
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=meta))


def describe_columns(path: str | Path) -> pd.DataFrame:
    """One row per column of a stored chunk (or of the first chunk of a results directory):
    name, Arrow type, unit, kind and description, read back from the Parquet schema metadata."""
    path = Path(path)
    if path.is_dir():
        files = ResultStore(path).chunk_files()
        if not files:
            raise UserError(str(path), "no chunks stored yet; allowed: a results directory with rows")
        path = files[0]
    schema = pq.read_schema(path)
    rows = []
    for f in schema:
        md = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        rows.append({"column": f.name, "type": str(f.type), "unit": md.get("unit", ""), "kind": md.get("kind", ""),
                     "description": md.get("description", "")})
    return pd.DataFrame(rows)
