"""Precision audit: every float32 run re-evaluates a sample of its cells in float64 and says
whether float32 moved anything the report relies on (docs/precision.md).

A number must be the same on every device within rounding. A float32 run (asked for, or the
model's declaration) may not be: power-law spectra span condition numbers of order
``N^(2 alpha)``, beyond float32's ~1e7, and a GPU multiplies float32 matrices at TF32 unless told
otherwise. So after computing, :func:`audit_run`

1. takes a deterministic sample of cells (:func:`sample_cells`: at most
   ``floor(AUDIT_FRACTION * n)`` cells whose estimated cost
   (:func:`toyscale.sweep.cell_cost`) adds up to at
   most ``AUDIT_FRACTION`` of the run's, at least one, spread
   over the groups in proportion to their size; ``AUDIT_FRACTION`` = 4 %: float64 costs
   ~2-2.5x float32 on a CPU (2.3x measured on the quickstart), so the audit costs ~10 % of the
   run),
2. evaluates them in float64 with full-precision products on the run's own random draws (drawn
   in float32 and cast, :func:`toyscale.models.base.draws_in`: JAX draws a float32 and a float64
   number from different bits, so a float64 draw would be another random problem), on the
   run's devices where float64 is fast (CPU, data-centre GPUs) and on the CPU otherwise
   (:func:`reference_devices`),
3. compares with the stored float32 rows: ``max_rel_diff`` per metric, rows whose status
   changes, and -- what the user relies on -- a verdict per the model's ``audit_rule``:

   * ``"roundoff"`` (float32 and float64 compute the same number up to rounding): the
     difference is translated into the fitted numbers. A check's (or phase cell's) slope moves
     by the least-squares slope of ``log m32 - log m64`` against ``log x`` over the sampled
     rows of its slice (exact for a log-log fit of the sampled seeds: the fit is linear in
     ``log m``); a frontier's (or frontier-map cell's) eta and xi are re-measured (IsoFLOP
     envelope) on the sampled seeds in both precisions. A shift larger than the entry's
     ``tolerance`` (the resolution at which the report calls theory and fit in agreement) is a
     move. A run with no check or frontier covered by the sample falls back to the rows:
     ``max_rel_diff`` of every required metric at most ``ROW_RTOL``. A row whose status
     changes (float32 diverges, float64 does not) is a move.
   * ``"trajectory"`` (training amplifies rounding into another trajectory: Adam, L-BFGS): a
     float64 rerun is another draw, so each sampled row's ``|m32 - m64|`` is divided by the
     seed-to-seed standard deviation of the same configuration (stored float32 rows); the
     median of that ratio over the sampled rows must stay at most ``TRAJECTORY_Z`` = 3. If
     float32 is adequate, ``m64`` is one more draw from the seeds' distribution: the
     difference of two independent draws has standard deviation ``sqrt(2) sigma`` and the
     ratio's median is ``0.674 sqrt(2) = 0.95``; correlated trajectories (same initialisation,
     same batches) give less. A median of 3 means float32 shifts the outcome by three seed
     spreads: a systematic effect, not chaos. With one seed there is no spread: the roundoff
     translation is used (and the record says so).

The record (``precision_audit.json`` in the result directory, written atomically)::

    {"reference": "float64", "precision": "float32", "cells": k, "cells_total": n,
     "max_rel_diff": {metric: x}, "ok": bool, "reason": "...", "rule": "roundoff",
     "items": [...], "seconds": s, "cost_ratio": s / run seconds, ...}

A run already in float64 records ``ok: true``, ``reference: "float64"``, ``cells: 0`` and does
no extra work. When the run's precision is below what the model declares, ``note`` says so.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from toyscale.analysis.slicing import select
from toyscale.jsonio import clean, encode

#: Fraction of the run's estimated cost the audit's sample may take (at least one cell).
AUDIT_FRACTION = 0.04
#: Trajectory rule: largest median of |m32 - m64| / seed spread (see the module docstring).
TRAJECTORY_Z = 3.0
#: Row rule (no check or frontier covered): largest relative difference of a required metric.
ROW_RTOL = 1e-2
#: GPU kinds with fast float64 (1/2 or 1/3 of the float32 rate): the reference runs on the GPU
#: itself; on any other accelerator it runs on the CPU.
FAST_FLOAT64 = ("A100", "A800", "H100", "H800", "H200", "GH200", "B100", "B200", "GB200", "V100", "P100",
                "MI210", "MI250", "MI300")
RECORD = "precision_audit.json"


def reference_devices(devices: list) -> list:
    """The devices the float64 reference runs on: ``devices`` themselves on a CPU or on a GPU
    with fast float64 (:data:`FAST_FLOAT64`), else the first CPU device (TPUs have no native
    float64; consumer GPUs run it at 1/32 or 1/64 of float32)."""
    d = devices[0]
    if d.platform == "cpu" or (d.platform == "gpu" and any(k in str(getattr(d, "device_kind", "")) for k in FAST_FLOAT64)):
        return list(devices)
    import jax

    return [jax.local_devices(backend="cpu")[0]]


def sample_cells(p, fraction: float = AUDIT_FRACTION) -> list[tuple[int, object]]:
    """Deterministic, cost-aware sample of the plan's ``n`` cells: at most
    ``max(1, floor(fraction * n))`` cells (the count) whose estimated cost fits in ``fraction``
    of the run's ``C = sum_g n_g c_g`` (``n_g`` cells of group ``g``, each of cost ``c_g`` =
    :func:`toyscale.sweep.cell_cost`), spread over the groups, at least one cell.

    Cells are taken one at a time, each from the group whose next cell fits in what is left of
    the budget ``fraction * C`` and whose count lags most behind its proportional share
    ``fraction * n_g`` (ties: the cheaper group, then the earlier one), until the count is
    reached or no cell fits; when none fits at all, the sample is one cell of the cheapest
    group. Within a group the ``k_g`` cells sit at evenly spaced positions
    ``floor((i + 1/2) n_g / k_g)``. With equal costs this is ``fraction`` of the cells in
    proportion to the groups' sizes; with unequal ones a dear group is sampled only when its
    cell fits (by count alone, the one cell of the float32 quickstart fell in its dearer
    ``width = inf`` group: 12 % of the run). The count caps the sample because the estimate
    ranks groups better than it measures them (``cell_bytes`` is memory, not time).
    Returns ``(group, cell)`` pairs in plan order."""
    from toyscale.sweep import cell_cost

    sizes = [len(g.cells) for g in p.groups]
    if sum(sizes) == 0:
        return []
    cost = [cell_cost(p.model, g) for g in p.groups]
    budget = fraction * sum(n * c for n, c in zip(sizes, cost)) * (1 + 1e-9)
    k, spent = [0] * len(sizes), 0.0
    count = min(sum(sizes), max(1, math.floor(fraction * sum(sizes) + 1e-9)))
    while sum(k) < count:
        fit = [g for g in range(len(sizes)) if k[g] < sizes[g] and spent + cost[g] <= budget]
        if not fit:
            break
        g = min(fit, key=lambda g: (-(fraction * sizes[g] - k[g]), cost[g], g))
        k[g] += 1
        spent += cost[g]
    if not any(k):
        k[min((g for g in range(len(sizes)) if sizes[g]), key=lambda g: (cost[g], g))] = 1
    return [(gi, p.groups[gi].cells[j]) for gi in range(len(sizes)) if k[gi]
            for j in sorted({int((i + 0.5) * sizes[gi] / k[gi]) for i in range(k[gi])})]


def reference_rows(exp, cells_of: list | None = None, devices: list | None = None, fraction: float = AUDIT_FRACTION):
    """Evaluate the sampled cells of ``exp`` in float64 (full-precision products) on
    ``devices``; returns ``(rows DataFrame, cells sampled, cells in the plan)``."""
    import pandas as pd

    from toyscale.models.base import draws_in
    from toyscale.sweep import balanced_chunks, max_cells, assemble, execute, local_devices, plan, precision_context

    exp64 = dataclasses.replace(exp, precision="float64", matmul_precision="highest")
    devices = devices or reference_devices(local_devices())
    # the same random problem as the stored rows: drawn in the run's precision, computed in float64
    with precision_context(exp64), draws_in(exp.precision):
        p = plan(exp64)
        picked = sample_cells(p, fraction)
        by_group: dict = {}
        for gi, c in picked:
            by_group.setdefault(gi, []).append(c)
        frames = []
        budget = exp.memory_mb or 1024.0
        for gi, cells in by_group.items():
            for chunk in balanced_chunks(gi, cells, max_cells(p.model, p.groups[gi], budget), len(devices)):
                res = execute(p, chunk, devices)
                frames.append(pd.DataFrame(assemble(p, chunk, res, set())))
    n = sum(len(g.cells) for g in p.groups)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), len(picked), n


def _scalar_metrics(model, df) -> list[str]:
    out = []
    for m in model.metrics:
        col = df.get(m.name)
        if col is None:
            continue
        first = col.dropna()
        if first.empty or np.ndim(first.iloc[0]) == 0:
            out.append(m.name)
    return out


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return None
    d = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), np.finfo(float).tiny)
    d[a[ok] == b[ok]] = 0.0
    return float(d.max())


def _slope_shift(rows, axis: str, metric: str, lo: float, hi: float):
    """Shift of a log-log slope along ``axis``: slope of mean(log m32 - log m64) vs log x."""
    x = rows[axis].astype(float).to_numpy()
    a, b = rows[metric + "_32"].to_numpy(float), rows[metric + "_64"].to_numpy(float)
    m = np.isfinite(x) & (x >= lo) & (x <= hi) & (x > 0) & np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    if len(set(x[m])) < 2:
        return None
    xs = np.array(sorted(set(x[m])))
    d = np.array([np.mean(np.log(a[m][x[m] == v]) - np.log(b[m][x[m] == v])) for v in xs])
    return float(np.polyfit(np.log(xs), d, 1)[0])


def _fit_range(model, exp, check, where: dict, metric_default: str):
    """The check's fit range and metric: ``fit_range``, else the theory's validity interval."""
    lo, hi, metric = -math.inf, math.inf, check.metric
    if check.fit_range:
        lo, hi = check.fit_range
    try:
        params = {k: v for k, v in {**exp.params, **where}.items() if k != check.axis}
        pred = model.theory.predict(check.axis, params, sorted(float(x) for x in exp.sweep[check.axis]), None)
        metric = metric or pred.metric
        if not check.fit_range:
            lo, hi = pred.valid
    except Exception:  # a theory that needs measured statistics: the whole axis
        pass
    return lo, hi, metric or metric_default


def _frontier_shift(model, exp, rows, spec, metric: str):
    """eta, xi of the IsoFLOP envelope of the sampled seeds' mean curves, float32 and float64."""
    from toyscale.analysis.frontiers import envelope

    if rows.empty:
        return None
    C = np.array([float(model.compute({**exp.params, **r})) for r in rows.to_dict("records")])
    rows = rows.assign(_C=C)
    out = {}
    for tag in ("32", "64"):
        col = f"{metric}_{tag}"
        d = rows[np.isfinite(rows[col].astype(float)) & (rows[col].astype(float) > 0) & (rows["_C"] > 0)]
        d = d.groupby([spec.size, spec.time]).agg(C=("_C", "mean"), L=(col, "mean")).reset_index()
        curves = {float(n): (g["C"].to_numpy(), g["L"].to_numpy()) for n, g in d.groupby(spec.size) if len(g) >= 2}
        if len(curves) < 3:
            return None
        Cs, Ls, Ns, ok = envelope(curves)
        if ok.sum() < 3 or len(set(Ns[ok])) < 2:
            return None
        out[tag] = {"eta": -float(np.polyfit(np.log(Cs[ok]), np.log(Ls[ok]), 1)[0]),
                    "xi": float(np.polyfit(np.log(Cs[ok]), np.log(Ns[ok]), 1)[0])}
    return out


def _roundoff_items(model, exp, both) -> list[dict]:
    items = []
    default_metric = model.metrics[0].name
    for kind, entries in (("check", exp.checks), ("phase", exp.phases)):
        for c in entries:
            overs = getattr(c, "over", ()) or ()
            sel = select(both, c.where)
            groups = [((), sel)] if not overs else list(sel.groupby(list(overs)))
            for key, rows in groups:
                where = {**c.where, **dict(zip(overs, key if isinstance(key, tuple) else (key,)))}
                lo, hi, metric = _fit_range(model, exp, c, where, default_metric)
                if metric + "_32" not in rows:
                    continue
                s = _slope_shift(rows, c.axis, metric, lo, hi)
                if s is None:
                    continue
                items.append({"kind": kind, "name": c.name, "quantity": f"slope along {c.axis}", "metric": metric,
                              "where": {k: encode(v) for k, v in where.items()}, "shift": s, "threshold": c.tolerance,
                              "moved": bool(abs(s) > c.tolerance)})
    for f in exp.frontiers:
        metric = f.metric or default_metric
        sel = select(both, f.where)
        groups = [((), sel)] if not f.over else list(sel.groupby(list(f.over)))
        for key, rows in groups:
            where = {**f.where, **dict(zip(f.over, key if isinstance(key, tuple) else (key,)))}
            r = _frontier_shift(model, exp, rows, f, metric)
            if r is None:
                continue
            for q in ("eta", "xi"):
                s = r["32"][q] - r["64"][q]
                items.append({"kind": "frontier", "name": f.name, "quantity": q, "metric": metric,
                              "where": {k: encode(v) for k, v in where.items()}, "float32": r["32"][q],
                              "float64": r["64"][q], "shift": s, "threshold": f.tolerance,
                              "moved": bool(abs(s) > f.tolerance)})
    return items


def _trajectory_items(model, exp, stored, both, metrics) -> list[dict]:
    params = [n for n in model.param_names if n in stored]
    keycols = [c for c in params if c != "seed"]
    items = []
    for m in metrics:
        spread = stored.assign(_k=stored[keycols].astype(str).agg("|".join, axis=1)).groupby("_k")[m].agg(
            lambda s: float(np.nanstd(s.to_numpy(float), ddof=1)) if s.notna().sum() >= 2 else np.nan)
        k = both[keycols].astype(str).agg("|".join, axis=1)
        sig = k.map(spread).to_numpy(float)
        a, b = both[m + "_32"].to_numpy(float), both[m + "_64"].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(sig)
        if not ok.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(a[ok] == b[ok], 0.0, np.abs(a[ok] - b[ok]) / sig[ok])
        med = float(np.median(z))
        items.append({"kind": "spread", "name": m, "quantity": "median |m32 - m64| / seed spread", "metric": m,
                      "shift": med, "threshold": TRAJECTORY_Z, "rows": int(ok.sum()), "moved": bool(med > TRAJECTORY_Z)})
    return items


def _describe(it: dict) -> str:
    where = ", ".join(f"{k}={v}" for k, v in it.get("where", {}).items())
    at = f" at {where}" if where else ""
    if it["kind"] == "frontier":
        return (f"frontier {it['name']!r}{at}: {it['quantity']} {it['float32']:.3f} in float32 vs {it['float64']:.3f} "
                f"in float64 (shift {it['shift']:+.3f}, tolerance {it['threshold']:g})")
    if it["kind"] == "spread":
        return (f"{it['metric']}: float32 differs from float64 by {it['shift']:.2f} seed spreads (median over "
                f"{it['rows']} rows; allowed {it['threshold']:g})")
    if it["kind"] == "rows":
        return f"{it['metric']}: max relative difference {it['shift']:.2e} (allowed {it['threshold']:g})"
    return f"{it['kind']} {it['name']!r}{at}: {it['quantity']} shifts by {it['shift']:+.3f} (tolerance {it['threshold']:g})"


def compare(exp, stored, ref) -> dict:
    """The audit's verdict from the stored rows and the float64 rows of the sampled cells
    (``ref``): ``max_rel_diff``, ``status_changed``, ``rule``, ``items``, ``ok``, ``reason``."""
    from toyscale.models import get_model

    model = get_model(exp.model)
    values = {n: list(exp.values(n)) for n in model.param_names}
    rule = model.audit_rule_for(values)
    metrics = _scalar_metrics(model, stored)
    cols = ["config_hash", "status"] + metrics
    both = stored.merge(ref[cols], on="config_hash", suffixes=("_32", "_64"))
    rec = {"rule": rule, "rows": int(len(both)),
           "max_rel_diff": {m: _rel(both[m + "_32"], both[m + "_64"]) for m in metrics}}
    usable = set(model.usable_statuses())
    changed = both[both["status_32"].isin(usable) != both["status_64"].isin(usable)]
    rec["status_changed"] = int(len(changed))
    note = []
    if rule == "trajectory" and len(exp.seeds) < 2:
        rule = "roundoff"
        note.append("one seed: no seed spread to compare a trajectory with; the roundoff translation is used")
    usable_rows = both[both["status_32"].isin(usable) & both["status_64"].isin(usable)]
    if rule == "trajectory":
        used = sorted({c.metric or model.metrics[0].name for c in (*exp.checks, *exp.phases, *exp.frontiers)}
                      & set(metrics)) or [m.name for m in model.metrics if not m.optional and m.name in metrics]
        items = _trajectory_items(model, exp, stored, usable_rows, used)
    else:
        items = _roundoff_items(model, exp, usable_rows)
        if rec["status_changed"]:
            items.append({"kind": "status", "name": "status", "quantity": "usable status", "metric": "status",
                          "shift": rec["status_changed"], "threshold": 0, "moved": True})
    if not [i for i in items if i["kind"] != "status"] and rule == "roundoff":
        for m in model.metrics:
            x = rec["max_rel_diff"].get(m.name)
            if not m.optional and x is not None:
                items.append({"kind": "rows", "name": m.name, "quantity": "max relative difference", "metric": m.name,
                              "shift": x, "threshold": ROW_RTOL, "moved": bool(x > ROW_RTOL)})
    moved = [i for i in items if i["moved"]]
    rec["items"] = items
    rec["ok"] = not moved
    if moved:
        text = [f"{len(changed)} sampled rows change status in float64" if i["kind"] == "status" else _describe(i)
                for i in moved]
        rec["reason"] = "float32 moves what the report relies on: " + "; ".join(text[:3]) + (
            f"; and {len(text) - 3} more" if len(text) > 3 else "")
    elif items:
        big = max(items, key=lambda i: abs(i["shift"]) / i["threshold"] if i["threshold"] else 0)
        rec["reason"] = f"float32 agrees with float64 on every audited quantity (largest: {_describe(big)})"
    else:
        rec["reason"] = "float32 agrees with float64 (no comparable rows)"
    if note:
        rec["rule_note"] = "; ".join(note)
    return rec


def run_audited(exp, out, *, audit: bool | None = None, **kw):
    """:func:`toyscale.sweep.run_experiment` (``kw`` are its arguments), then, once every row is
    stored and no chunk failed, :func:`audit_run`: re-evaluate a deterministic sample of cells in
    float64 and record whether float32 moved anything the report relies on
    (``precision_audit.json``). A float64 run records that it is its own reference, with no
    extra work. ``audit=None``: on unless the environment sets ``TOYSCALE_AUDIT=0``. Returns the
    run's :class:`~toyscale.sweep.RunSummary` with ``audit`` set to the record (or ``None``)."""
    import os

    from toyscale.sweep import run_experiment

    s = run_experiment(exp, out, **kw)
    if audit is None:
        audit = os.environ.get("TOYSCALE_AUDIT", "1") != "0"
    if audit and s.complete and not s.failed_chunks:
        rec = audit_run(exp, out, devices=kw.get("devices"), run_seconds=s.seconds, recompute=s.computed > 0)
        s = dataclasses.replace(s, audit=rec)
    return s


def audit_run(exp, out, *, devices: list | None = None, run_seconds: float | None = None,
              recompute: bool = True, fraction: float = AUDIT_FRACTION, quiet: bool = False) -> dict:
    """Audit the stored rows of ``exp`` in ``out`` against a float64 re-evaluation of a sample of
    cells and write ``precision_audit.json`` (see the module docstring for the rules).

    Args:
      exp: the experiment the run computed (its resolved precision).
      out: the result directory.
      devices: the run's devices (the reference runs on :func:`reference_devices` of them).
      run_seconds: the run's wall time, for ``cost_ratio``.
      recompute: ``False`` returns an existing record without work (a resumed run that
        computed nothing new).
      fraction: share of the cells re-evaluated (at least one).
      quiet: do not print the one-line warning when the audit is not ok.

    Returns:
      The record written.
    """
    from toyscale.models import get_model
    from toyscale.store import ResultStore, atomic_write
    from toyscale.sweep import local_devices

    store = ResultStore(out)
    path = Path(out) / RECORD
    if not recompute and path.exists():
        return json.loads(path.read_text())
    model = get_model(exp.model)
    declared = model.precision_for({n: list(exp.values(n)) for n in model.param_names})
    rec = {"reference": "float64", "precision": exp.precision, "matmul_precision": exp.matmul_precision,
           "model_precision": declared}
    if exp.precision != declared and declared == "float64":
        rec["note"] = f"precision {exp.precision} was requested below the model's declared {declared}"
    if exp.precision == "float64":
        rec.update(cells=0, max_rel_diff={}, ok=True, reason="the run computed in float64: it is its own reference")
    else:
        t0 = time.perf_counter()
        devices = devices or local_devices()
        ref_devices = reference_devices(devices)
        ref, k, n = reference_rows(exp, devices=ref_devices, fraction=fraction)
        stored = store.load()
        rec.update(cells=k, cells_total=n, device=ref_devices[0].platform)
        rec.update(compare(exp, stored, ref))
        rec["seconds"] = time.perf_counter() - t0
        if run_seconds:
            rec["cost_ratio"] = rec["seconds"] / run_seconds
    atomic_write(path, json.dumps(clean(rec), indent=2))
    if not rec["ok"] and not quiet:
        print(f"toyscale: precision audit NOT OK ({exp.precision} vs float64 on {rec['cells']} cells): {rec['reason']}",
              file=sys.stderr)
    return rec


def read_record(out) -> dict | None:
    """The precision audit record of a result directory, or ``None`` (not audited)."""
    path = Path(out) / RECORD
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def audit_line(record: dict | None) -> str | None:
    """One line for the top of report.md: the audit's verdict and reason."""
    if not record:
        return None
    if record.get("precision") == "float64":
        return "Precision: float64 (the run is its own float64 reference; no audit needed)."
    head = (f"Precision audit ({record.get('precision')} vs float64 on {record.get('cells')} of "
            f"{record.get('cells_total', '?')} cells, rule {record.get('rule')}): ")
    note = f" Note: {record['note']}." if record.get("note") else ""
    if record.get("ok"):
        return head + f"ok — {record.get('reason', '')}.{note}"
    return f"**{head}NOT OK** — {record.get('reason', '')}.{note}"


def _half_width(entry: dict, quantity: str):
    """Half-width of the report entry's 95 % interval of ``quantity`` (a check's slope, a
    frontier's eta or xi by its first method), or ``None``."""
    if quantity.startswith("slope") and entry.get("ci_low") is not None and entry.get("ci_high") is not None:
        return (entry["ci_high"] - entry["ci_low"]) / 2
    methods = entry.get("methods") or []
    ci = methods[0].get(f"{quantity}_ci") if methods else None
    return (ci[1] - ci[0]) / 2 if ci else None


def audit_entry(record: dict | None, kind: str, name: str, entry: dict | None = None) -> dict | None:
    """What the audit says about one report entry (``kind`` ``"check"``, ``"phase"`` or
    ``"frontier"``, its ``name``): the run's ``ok``, whether this entry ``moved`` (by more than
    its tolerance) and its largest audited ``shift`` (``None`` when the sample did not cover
    it); with the report's ``entry``, also ``interval_half_width`` and ``beyond_interval``
    (the shift against the entry's 95 % interval). Added to the entry in summary.json /
    frontiers.json as ``precision_audit``."""
    if not record:
        return None
    out = {"ok": record.get("ok"), "reference": record.get("reference"), "precision": record.get("precision")}
    mine = [i for i in record.get("items", []) if i.get("kind") == kind and i.get("name") == name]
    if mine:
        big = max(mine, key=lambda i: abs(i["shift"]))
        out.update(moved=any(i["moved"] for i in mine), shift=big["shift"], quantity=big["quantity"],
                   threshold=big["threshold"])
        hw = _half_width(entry or {}, big["quantity"]) if kind in ("check", "frontier") else None
        if hw is not None:
            out.update(interval_half_width=hw, beyond_interval=bool(abs(big["shift"]) > hw))
    elif record.get("precision") != "float64":
        out.update(moved=None, shift=None)
    return out
