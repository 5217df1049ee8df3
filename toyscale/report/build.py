"""The report build: evaluate every check, phase diagram and frontier of a result directory,
draw each from its result, write ``summary.json``, ``phases.json``, ``frontiers.json``,
``report.md`` and ``figures/`` (atomic writes through :func:`toyscale.store.atomic_write`).

Run-level records: JSON files other parts of a run write next to the rows (listed in
:data:`RUN_RECORDS`, e.g. the precision audit) are read back generically: returned in
:attr:`Report.records`, shown on :class:`toyscale.Results`, and a record whose ``ok`` is
``false`` puts one line at the top of ``report.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toyscale.analysis.checks import evaluate_check
from toyscale.analysis.frontiers import evaluate_frontier, evaluate_frontier_map
from toyscale.analysis.phases import evaluate_phase
from toyscale.analysis.slicing import format_value
from toyscale.errors import UserError
from toyscale.jsonio import decode, dumps
from toyscale.models import get_model
from toyscale.plot.checks import check_figure, curves_figure
from toyscale.plot.frontiers import frontier_figure, frontier_map_figure
from toyscale.plot.phases import phase_figure
from toyscale.plot.style import save
from toyscale.report.tables import frontier_map_table, frontier_table, table
from toyscale.store import ResultStore, atomic_write

#: Run-level records summary.json carries beside the checks, in the order report.md shows them:
#: the precision audit of the run (``precision_audit.json``, :mod:`toyscale.audit`) and the
#: provenance of every process that wrote rows (``provenance/*.json``, :mod:`toyscale.provenance`).
RUN_RECORDS = ("precision_audit", "provenance")

CI_TEXT = {"seeds": "seed bootstrap (whole seeds resampled; SE with Student-t quantiles)",
           "points": "bootstrap over axis values (one seed: no seed-to-seed spread to resample)"}


@dataclass
class Report:
    """What :func:`make_report` wrote: the JSON entries of every check, phase diagram and
    frontier, the figure paths and the run-level records found."""

    checks: list = field(default_factory=list)
    phases: list = field(default_factory=list)
    frontiers: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    records: dict = field(default_factory=dict)


def read_records(root: str | Path) -> dict:
    """``{name: record}`` for every run-level record of :data:`RUN_RECORDS` found in ``root``."""
    from toyscale import audit, provenance

    out = {}
    rec = audit.read_record(root)
    if rec is not None:
        out["precision_audit"] = rec
    if provenance.runs(root):
        out["provenance"] = provenance.summary(root)
    return out


def read_summary(root: str | Path) -> dict:
    """The ``summary.json`` of a result directory as ``{"checks": [...], <record>: {...}}``
    (``{"checks": []}`` when there is none). Directories written before summary.json carried
    run-level records hold a bare list of checks; it is read as ``{"checks": list}``."""
    p = Path(root) / "summary.json"
    if not p.exists():
        return {"checks": []}
    doc = json.loads(p.read_text())
    return {"checks": doc} if isinstance(doc, list) else doc


def _record_lines(records: dict) -> list[str]:
    from toyscale import audit, provenance

    lines = []
    if "precision_audit" in records:
        lines.append(audit.audit_line(records["precision_audit"]))
    if "provenance" in records:
        lines.append("Made by: " + "; ".join(provenance.lines(records["provenance"])) + ".")
    return lines


def _check_line(e: dict, link: bool) -> str:
    return (f"- **{e['name']}** ({e['metric']}, {e['law']} law; {e.get('slice') or 'whole sweep'}): {e['theory_note']}"
            + ("; alternatives: " + ", ".join(f"{a['label']} {a['slope']:+.3f}" for a in e["alternatives"])
               if e.get("alternatives") else "")
            + (f" — {e['reason']}" if e.get("reason") else "")
            + (f" Flagged runs ({e['n_flagged']}): "
               + ", ".join(f"{e['axis']}={format_value(u[e['axis']])} seed {u['seed']} ({u['status']})"
                           for u in e["flagged_runs"]) + "."
               if e.get("n_flagged") else "")
            + (f" ![{e['name']}](figures/{e['name']}.png)" if e.get("figure") and link else ""))


def _phase_lines(ph: dict, link: bool) -> list[str]:
    fitted = np.array(ph["maps"]["fitted"], float)
    out = [f"\n## Phase diagram {ph['name']}: slope along {ph['axis']} over {ph['over'][0]} x {ph['over'][1]}\n",
           f"{np.isfinite(fitted).sum()} of {fitted.size} cells fitted; slopes from {np.nanmin(fitted):+.3f} "
           f"to {np.nanmax(fitted):+.3f}. Cells in phases.json." if np.isfinite(fitted).any() else "No cell fitted."]
    if link:
        out.append(f"\n![{ph['name']}](figures/{ph['name']}.png)")
    return out


def _frontier_lines(f: dict, link: bool) -> list[str]:
    out = [f"\n## Compute-optimal frontier {f['name']} ({f.get('slice') or 'whole sweep'})\n"]
    if f.get("over"):
        out.append(frontier_map_table(f) + (f"\n\n![{f['name']}](figures/{f['name']}.png)" if link else ""))
    else:
        out.append(frontier_table([f]))
    return out


def make_report(out: str | Path, figures: str | Path | bool | None = None, n_boot: int = 1000) -> Report:
    """Regenerate ``summary.json``, ``report.md``, ``phases.json``, ``frontiers.json`` and the
    figures from the stored results in ``out`` (figures into ``figures``, default ``out/figures``;
    ``figures=False`` draws none).

    Every figure is drawn from the evaluated result (never refitted).
    """
    store = ResultStore(out)
    meta = store.read_meta()
    model = get_model(meta["experiment"]["model"], field=str(out))
    df = store.load()
    if df.empty:
        raise UserError(str(out), "no stored rows yet; run the experiment first")
    fixed = {k: decode(v) for k, v in meta["experiment"]["params"].items()}
    draw = figures is not False
    figdir = Path(figures) if figures else store.root / "figures"
    time_axis = model.time_axis
    swept_time = time_axis is not None and df[time_axis].nunique() > 1
    rep = Report(records=read_records(store.root))

    def put(fig, name: str) -> str:
        path = save(fig, figdir / f"{name}.png")
        rep.figures.append(path)
        return str(path)

    for check in meta.get("checks", []):
        e = evaluate_check(df, model, fixed, check, n_boot=n_boot).to_json()
        if draw:
            e["figure"] = put(check_figure(e), e["name"])
            if swept_time and e["axis"] != time_axis:
                fig = curves_figure(e, df, time_axis)
                if fig is not None:
                    e["curves_figure"] = put(fig, f"{e['name']}_curves")
        rep.checks.append(e)
    for phase in meta.get("phases", []):
        ph = evaluate_phase(df, model, fixed, phase).to_json()
        if draw:
            ph["figure"] = put(phase_figure(ph), ph["name"])
        rep.phases.append(ph)
    for fr in meta.get("frontiers", []):
        if fr.get("over"):  # one frontier per cell of a two-parameter grid
            f = evaluate_frontier_map(df, model, fixed, fr).to_json()
            if draw:
                f["figure"] = put(frontier_map_figure(f), f["name"])
        else:
            f = evaluate_frontier(df, model, fixed, fr, n_boot=min(n_boot, 200)).to_json()
            if draw and f.get("curves"):
                f["figure"] = put(frontier_figure(f), f["name"])
        rep.frontiers.append(f)
    audit = rep.records.get("precision_audit")
    if audit:  # what the precision audit says about each entry (shift against its interval)
        from toyscale.audit import audit_entry

        for kind, entries in (("check", rep.checks), ("phase", rep.phases), ("frontier", rep.frontiers)):
            for e in entries:
                e["precision_audit"] = audit_entry(audit, kind, e["name"], e)
    if rep.phases:
        atomic_write(store.root / "phases.json", dumps(rep.phases))
    if rep.frontiers:
        atomic_write(store.root / "frontiers.json", dumps(rep.frontiers))
    atomic_write(store.root / "summary.json", dumps({"checks": rep.checks, **rep.records}))
    atomic_write(store.root / "report.md", "\n".join(report_markdown(meta, df, rep, link=draw and not figures)))
    return rep


def report_markdown(meta: dict, df, rep: Report, link: bool = True) -> list[str]:
    """The lines of ``report.md``: run-level warnings, row counts, the checks table and notes,
    phase diagrams and frontiers (``link``: embed the figures of ``figures/``)."""
    counts = df["status"].value_counts().to_dict()
    methods = sorted({e.get("bootstrap") for e in rep.checks if e.get("bootstrap")})
    md = [f"# {meta['name']}: theory vs fit", ""]
    warn = _record_lines(rep.records)
    if warn:
        md += warn + [""]
    md += [meta.get("description", ""), "",
           f"Rows: {len(df)} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}).", "",
           "Slopes are d log(metric) / d log(axis) of the seed-mean (the seed-median where the check says "
           "statistic = median). CI: " + ("; ".join(CI_TEXT.get(m, m) for m in methods) or "none (no fit)") + ".",
           "", table(rep.checks), ""]
    md += [_check_line(e, link) for e in rep.checks]
    for ph in rep.phases:
        md += _phase_lines(ph, link)
    for f in rep.frontiers:
        md += _frontier_lines(f, link)
    return md
