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
        if self.exists():
            self.remove_stale_tmp()
            old = self.read_meta()
            if old.get("fingerprint") != meta.get("fingerprint"):
                raise UserError("--out", f"{self.root} holds results of a different experiment "
                                         f"({old.get('name')}, fingerprint {old.get('fingerprint')}); "
                                         "use another --out directory")
            if old != meta:  # same computation, e.g. checks edited: keep the newest description
                _atomic_write_bytes(self.meta_path, json.dumps(meta, indent=2).encode())
            return
        self.chunks.mkdir(parents=True, exist_ok=True)
        _atomic_write_bytes(self.meta_path, json.dumps(meta, indent=2).encode())

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
        """Write one finished chunk atomically: temp file in the same directory, fsync, rename."""
        table = pa.table(columns)
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


def _atomic_write_bytes(path: Path, data: bytes) -> None:
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
