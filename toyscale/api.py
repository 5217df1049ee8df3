"""The Python API: ``toyscale.run`` and ``toyscale.load`` (what the ``toyscale run`` command does,
from a notebook or a script)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from toyscale.errors import UserError
from toyscale.experiment import Experiment, load_experiment
from toyscale.store import ResultStore, check_writable


@dataclass
class Results:
    """Stored results of one experiment directory.

    Attributes:
      dir: the output directory.
      experiment: the experiment's resolved description (``experiment.json``).
      summary: one entry per ``[[checks]]`` table: regime, theory slope, fitted slope and its
        interval, held-out error, flagged runs, figure path (``summary.json``).
      phases: phase diagrams (``phases.json``), one entry per ``[[phases]]`` table.
      frontiers: compute-optimal frontiers (``frontiers.json``), one per ``[[frontiers]]``.
      records: run-level records found in the directory (``{name: record}``, e.g.
        ``precision_audit``; see :data:`toyscale.report.RUN_RECORDS`).
      run: what the run did (rows computed, skipped, compilations, seconds, statuses) when the
        results come from :func:`run`; ``None`` from :func:`load`.
    """

    dir: Path
    experiment: dict
    summary: list = field(default_factory=list)
    phases: list = field(default_factory=list)
    frontiers: list = field(default_factory=list)
    records: dict = field(default_factory=dict)
    run: Any = None

    @property
    def precision_audit(self) -> dict | None:
        """The run's precision audit (``precision_audit.json``, :mod:`toyscale.audit`), or ``None``."""
        return self.records.get("precision_audit")

    @property
    def table(self):
        """All stored rows as a pandas DataFrame (long format: one row per configuration and
        recorded step, with every parameter, ``seed``, ``config_hash``, metrics, ``status``)."""
        return ResultStore(self.dir).load()

    @property
    def provenance(self) -> dict:
        """What made these rows: versions, platform and devices, precision and matmul
        precision, start/end time, git commit (see :func:`toyscale.provenance.summary`)."""
        from toyscale.provenance import summary

        return summary(self.dir)

    def to_xarray(self, metrics=None):
        """The rows as an ``xarray.Dataset`` indexed by the swept axes and seed (see
        :func:`toyscale.export.to_xarray`; needs ``pip install 'toyscale[xarray]'``)."""
        from toyscale.export import to_xarray

        return to_xarray(self.dir, metrics)

    def check(self, name: str) -> dict:
        """The summary entry of check ``name``."""
        for e in self.summary:
            if e["name"] == name:
                return e
        raise KeyError(f"no check {name!r}; checks: {[e['name'] for e in self.summary]}")

    def plot(self, check: str):
        """The figure of check ``check`` as a matplotlib ``Figure`` (display it in a notebook;
        no pyplot state is touched), drawn from the stored result (``summary.json``): nothing
        is refitted."""
        from toyscale.plot import check_figure

        return check_figure(self.check(check))

    def __repr__(self) -> str:
        lines = [f"Results({str(self.dir)!r}: model {self.experiment.get('model')}, "
                 f"{len(self.summary)} checks, {len(self.phases)} phase diagrams, {len(self.frontiers)} frontiers)"]
        for e in self.summary:
            fit = "—" if e.get("fitted") is None else f"{e['fitted']:+.3f}"
            th = "—" if e.get("theory") is None else f"{e['theory']:+.3f}"
            lines.append(f"  {e['name']}: theory {th}, fitted {fit}")
        return "\n".join(lines)


def prepare(experiment, out=None, *, quick: bool = False, set: Sequence[str] = (), shard=None,
            fields=("experiment", "out", "shard")) -> tuple[Experiment, Path, tuple[int, int]]:
    """Everything :func:`run` checks before any compute: the resolved experiment (precision
    set), the output directory (writable, empty or holding this experiment) and the shard.

    Raises:
      UserError: naming ``fields`` (the experiment, the output directory, the shard).
    """
    from toyscale.sweep import resolve_precision

    part = parse_shard(shard, field=fields[2])
    exp = resolve_precision(_experiment(experiment, quick, set))
    return exp, output_dir(exp, out, quick, field=fields[1]), part


def _experiment(experiment, quick: bool, overrides: Sequence[str]) -> Experiment:
    if isinstance(experiment, Experiment):
        if quick or overrides:
            raise UserError("experiment", "quick and set apply to a file or a dict, not to an Experiment")
        return experiment
    if isinstance(experiment, Mapping):
        from toyscale.experiment import experiment_from_doc

        doc = dict(experiment)
        return experiment_from_doc(doc, name=str(doc.pop("name", "experiment")), quick=quick, overrides=list(overrides))
    if isinstance(experiment, (str, Path)):
        return load_experiment(experiment, quick=quick, overrides=list(overrides))
    raise UserError("experiment", f"expected a TOML path, a dict or an Experiment, got {type(experiment).__name__}")


def output_dir(exp: Experiment, out, quick: bool = False, field: str = "--out") -> Path:
    """The run's output directory (default ``out/NAME[-quick]``), checked before any compute:
    writable, and empty or holding this same experiment (same fingerprint)."""
    out = Path(out) if out is not None else Path("out") / (exp.name + ("-quick" if quick else ""))
    check_writable(out, field)
    store = ResultStore(out)
    if store.exists():
        old = store.read_meta()
        if old.get("fingerprint") != exp.fingerprint():
            raise UserError(field, f"{out} holds results of a different experiment ({old.get('name')}); "
                                   "allowed: an empty directory or one from the same experiment")
    return out


def parse_shard(shard, field: str = "--shard") -> tuple[int, int]:
    """``"I/N"`` or ``(I, N)`` -> ``(I, N)`` with ``0 <= I < N``; ``None`` -> ``(0, 1)``."""
    if shard is None:
        return (0, 1)
    try:
        i, n = (shard.split("/") if isinstance(shard, str) else shard)
        i, n = int(i), int(n)
    except (TypeError, ValueError):
        raise UserError(field, f"{shard!r} is not I/N; allowed: two integers I/N with 0 <= I < N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise UserError(field, f"{shard!r} is out of range; allowed: I/N with 0 <= I < N, e.g. 0/4")
    return (i, n)


def run(experiment, out: str | Path | None = None, *, quick: bool = False, set: Sequence[str] = (),
        progress: bool = True, report: bool = True, shard=None, audit: bool | None = None) -> Results:
    """Run (or resume) an experiment and report it: one call from a notebook.

    The grid (swept axes x seeds) is evaluated as compiled ``jit(vmap(evaluate))`` programs,
    stored as one Parquet file per finished chunk in ``out`` (a killed run resumes), then each
    ``[[checks]]`` table is fitted (power law with a seed-bootstrap interval) and held against
    the model's theory exponent -- the *theory vs fitted exponent +- CI* table.

    Args:
      experiment: a TOML file path, a dict with the file's structure, or an :class:`Experiment`.
      out: output directory (default ``out/NAME``, ``out/NAME-quick`` with ``quick``).
      quick: apply the file's ``[quick]`` table (a smaller sweep).
      set: overrides ``"KEY=VALUE"`` (``"params.alpha=0.8"``, ``"seeds=4"``), as ``--set``.
      progress: show a progress bar over chunks.
      report: write ``summary.json``, ``report.md`` and figures after the run (with ``shard``:
        only once every shard's rows are stored, by the process that finishes last).
      shard: ``"I/N"`` or ``(I, N)``: compute process I's fixed share of N; N processes (any
        machines) may run on one ``out`` at once. Default: the whole grid.
      audit: after a float32 run, re-evaluate a sample of cells in float64 and record whether
        float32 moved a fitted exponent (``precision_audit.json``, :mod:`toyscale.audit`);
        ``False`` skips it; ``None`` (default): on unless the environment sets ``TOYSCALE_AUDIT=0``.

    Returns:
      :class:`Results` (``.table`` DataFrame, ``.summary``, ``.plot(check)``).

    Raises:
      UserError: bad experiment or output directory (the field is named), before any compute.

    Example::

        import toyscale
        res = toyscale.run({"model": "random_features", "seeds": 4,
                            "params": {"alpha": 1.0, "beta": 0.25, "samples": float("inf")},
                            "sweep": {"width": {"geom": [16, 256], "num": 6}},
                            "checks": [{"axis": "width"}]}, out="out/nb")
        res.summary[0]["fitted"], res.summary[0]["theory"]   # about -1.5 and -1.5
        res.plot("width")
    """
    from toyscale.audit import run_audited

    exp, out, part = prepare(experiment, out, quick=quick, set=set, shard=shard)
    summary = run_audited(exp, out, audit=audit, progress=progress, part=part)
    res = load(out, report=report and summary.complete and bool(exp.checks or exp.phases or exp.frontiers))
    res.run = summary
    return res


def load(out: str | Path, *, report: bool = False) -> Results:
    """Open a results directory written by :func:`run` or ``toyscale run``.

    Reads ``experiment.json`` and, when present, ``summary.json``, ``phases.json``,
    ``frontiers.json`` and the run-level records; the rows are read on demand (``Results.table``).

    Args:
      out: the results directory.
      report: regenerate the report (summary.json, report.md, figures) first.

    Raises:
      UserError: ``out`` is not a toyscale results directory.
    """
    from toyscale.report import make_report, read_records, read_summary

    store = ResultStore(out)
    meta = store.read_meta()
    if report:
        make_report(out)

    def read(name):
        p = store.root / name
        return json.loads(p.read_text()) if p.exists() else []

    return Results(dir=store.root, experiment={**meta["experiment"], "name": meta.get("name")},
                   summary=read_summary(store.root)["checks"], phases=read("phases.json"), frontiers=read("frontiers.json"),
                   records=read_records(store.root))
