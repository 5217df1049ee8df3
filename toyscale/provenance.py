"""Provenance: what made a result directory.

A record says which code and machine computed the rows: toyscale, JAX and jaxlib versions,
Python, the operating system, the JAX platform and device names, the precision and matmul
precision used, start and end time (UTC, ISO 8601), and -- when toyscale is imported from a git
checkout -- the commit and whether the work tree had uncommitted changes. Nothing here raises:
a field that cannot be read is ``None`` (outside a checkout ``git`` is ``None``).

Each process that computes rows writes its record to ``DIR/provenance/START-HOST-PID.json``
(several shards, several records; a resumed run adds one). :func:`runs` reads them back.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform as _platform
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

#: Record format version.
VERSION = "1"
SUBDIR = "provenance"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - not installed, or installed without metadata
        try:
            return getattr(__import__(module), "__version__", None)
        except Exception:  # noqa: BLE001
            return None


def git_info(path: str | Path | None = None) -> dict | None:
    """``{"commit", "dirty", "root"}`` of the git checkout holding ``path`` (default: the
    toyscale package), or ``None`` when it is not in a checkout or git is unavailable.

    ``dirty``: tracked files differ from the commit (``git status --porcelain
    --untracked-files=no`` is not empty); untracked files (an ``out/`` directory) do not count.
    """
    here = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        def git(*args):
            return subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, timeout=10,
                                  env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})

        top = git("rev-parse", "--show-toplevel")
        if top.returncode != 0:
            return None
        commit = git("rev-parse", "HEAD")
        if commit.returncode != 0:  # a repository without commits
            return None
        status = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None,
                "root": top.stdout.strip()}
    except Exception:  # noqa: BLE001 - no git binary, timeout, unreadable directory: no provenance, no failure
        return None


def environment(devices=None) -> dict:
    """Versions, operating system, and the JAX platform and device names (``devices``: the
    devices the run uses; default every local device)."""
    rec = {"toyscale": _version("toyscale"), "jax": _version("jax"), "jaxlib": _version("jaxlib"),
           "python": _platform.python_version(), "os": _platform.platform(), "machine": _platform.machine(),
           "host": socket.gethostname(), "platform": None, "devices": None}
    try:
        import jax

        devices = list(devices) if devices is not None else jax.local_devices()
        rec["platform"] = devices[0].platform if devices else None
        rec["devices"] = [getattr(d, "device_kind", str(d)) for d in devices]
    except Exception:  # noqa: BLE001 - a backend that fails to start is reported by the run itself
        pass
    return rec


def matmul_precision(exp=None) -> str:
    """The matmul precision in force: the experiment's ``matmul_precision`` when it has one,
    else JAX's ``jax_default_matmul_precision`` (``"default"`` when unset: the backend's
    choice, which on GPUs may be TF32 for float32)."""
    v = getattr(exp, "matmul_precision", None)
    if v:
        return str(v)
    try:
        import jax

        return str(jax.config.jax_default_matmul_precision or "default")
    except Exception:  # noqa: BLE001
        return "default"


def start(exp=None, devices=None, *, part: tuple = (0, 1)) -> dict:
    """A provenance record at the start of a run of ``exp`` (an :class:`~toyscale.experiment.Experiment`
    after its precision is resolved) on ``devices``; :func:`finish` completes it."""
    rec = {"provenance_version": VERSION, **environment(devices),
           "precision": getattr(exp, "precision", None), "matmul_precision": matmul_precision(exp),
           "x64": _x64(), "experiment": getattr(exp, "name", None),
           "fingerprint": _call(exp, "fingerprint"), "part": list(part), "pid": os.getpid(),
           "git": git_info(), "argv": list(sys.argv), "started": _now(), "finished": None}
    return rec


def finish(rec: dict, **extra) -> dict:
    """``rec`` with its end time (and ``extra`` fields, e.g. rows computed) filled in."""
    return {**rec, "finished": _now(), **extra}


def _x64() -> bool | None:
    try:
        import jax

        return bool(jax.config.jax_enable_x64)
    except Exception:  # noqa: BLE001
        return None


def _call(obj, name):
    try:
        return getattr(obj, name)()
    except Exception:  # noqa: BLE001
        return None


def write_run(out: str | Path, rec: dict) -> Path:
    """Write ``rec`` to ``out/provenance/START-HOST-PID.json`` atomically; return the path."""
    d = Path(out) / SUBDIR
    d.mkdir(parents=True, exist_ok=True)
    stamp = (rec.get("started") or _now()).replace(":", "").replace("+0000", "Z")
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(rec.get("host") or "host"))
    path = d / f"{stamp}-{host}-{rec.get('pid', os.getpid())}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=d)
    with os.fdopen(fd, "w") as fh:
        json.dump(rec, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def runs(out: str | Path) -> list[dict]:
    """Every provenance record of the result directory ``out``, oldest first (unreadable
    records are skipped)."""
    d = Path(out) / SUBDIR
    recs = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            recs.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(recs, key=lambda r: r.get("started") or "")


def summary(out: str | Path) -> dict:
    """What summary.json records: the distinct values of each provenance field over the runs
    that wrote ``out`` (one value when a single environment made every row), first start and
    last end, and the number of runs."""
    recs = runs(out)
    keys = ("toyscale", "jax", "jaxlib", "python", "platform", "devices", "precision", "matmul_precision", "git")
    out_ = {"runs": len(recs), "started": min((r["started"] for r in recs if r.get("started")), default=None),
            "finished": max((r["finished"] for r in recs if r.get("finished")), default=None)}
    for k in keys:
        vals = []
        for r in recs:
            v = r.get(k)
            if k == "git" and isinstance(v, dict):
                v = {"commit": v.get("commit"), "dirty": v.get("dirty")}
            if v not in vals:
                vals.append(v)
        out_[k] = vals[0] if len(vals) == 1 else vals
    return out_


def lines(summ: dict) -> list[str]:
    """A few human lines of a :func:`summary` (for report.md and ``toyscale report``)."""
    if not summ.get("runs"):
        return ["provenance: not recorded"]
    git = summ.get("git")
    if isinstance(git, dict):
        code = f"commit {git['commit'][:12]}{' (dirty)' if git.get('dirty') else ''}"
    elif git is None:
        code = "not run from a git checkout"
    else:
        code = "several commits: " + ", ".join((g or {}).get("commit", "none")[:12] for g in git)
    devices = summ.get("devices")
    dev = ", ".join(devices) if isinstance(devices, list) and all(isinstance(d, str) for d in devices) else str(devices)
    return [f"toyscale {summ.get('toyscale')}, JAX {summ.get('jax')} (jaxlib {summ.get('jaxlib')}), "
            f"Python {summ.get('python')}; {code}",
            f"{summ.get('platform')}: {dev}; precision {summ.get('precision')}, matmul precision "
            f"{summ.get('matmul_precision')}",
            f"{summ['runs']} run{'s' if summ['runs'] != 1 else ''} from {summ.get('started')} to {summ.get('finished')}"]
