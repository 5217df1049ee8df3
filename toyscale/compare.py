"""Compare two result directories: two precisions, two devices, two code versions, two
protocols of one experiment.

Two views:

* **Checks**: the two theory-vs-fit tables side by side (each directory's ``summary.json``),
  matched by check name and slice: both fitted exponents with their intervals, the difference
  ``fitted_b - fitted_a``, and whether it exceeds the intervals -- ``exceeds``: |difference| >
  sqrt(h_a^2 + h_b^2), h the interval half-widths (the difference of two independent estimates
  with those intervals), and ``outside``: either fitted value lies outside the other's interval.
* **Rows**: the rows the two directories share (the same ``config_hash``: the same model,
  parameters and seed; precision is not part of the hash), per metric the largest relative
  difference |x_b - x_a| / max(|x_a|, |x_b|), the number of rows beyond ``rtol``, rows whose
  status changed, and the most different rows with their coordinates.

Run-to-run noise is not the question here: both directories hold the same seeds, so any
difference is the change being compared (rounding, a code change, a protocol change).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toyscale.errors import UserError

#: Default relative tolerance under which two stored values count as equal.
RTOL = 1e-6


@dataclass
class Comparison:
    """What :func:`compare` finds.

    Attributes:
      a, b: the two directories.
      checks: list of dicts, one per check (name, slice) of either directory: ``theory_a``,
        ``fitted_a``, ``ci_a``, the same for b, ``diff``, ``exceeds``, ``outside``, ``only``
        (``"a"``/``"b"`` when the check is in one directory only).
      metrics: list of dicts per metric: ``shared`` rows with a value in both, ``max_rel_diff``,
        ``n_beyond_rtol``, ``null_mismatch`` (a value in one directory, null in the other).
      rows: the ``top`` rows with the largest relative difference of any metric (coordinates,
        metric, both values, relative difference).
      shared, only_a, only_b: row counts by ``config_hash``.
      status_changes: ``{"ok -> nonfinite": count, ...}`` over shared rows.
      experiments: the two ``experiment.json`` experiments' differing keys ``{key: (a, b)}``.
    """

    a: str
    b: str
    checks: list = field(default_factory=list)
    metrics: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    shared: int = 0
    only_a: int = 0
    only_b: int = 0
    status_changes: dict = field(default_factory=dict)
    experiments: dict = field(default_factory=dict)
    rtol: float = RTOL

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _summary(d: Path) -> list:
    """The check entries of ``d/summary.json`` (:func:`toyscale.report.read_summary`); [] if none."""
    from toyscale.report import read_summary

    try:
        data = read_summary(d)["checks"]
    except (OSError, ValueError) as e:
        raise UserError(str(d), f"cannot read summary.json: {e}") from None
    return [e for e in data if isinstance(e, dict)]


def _half(e) -> float | None:
    lo, hi = e.get("ci_low"), e.get("ci_high")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return (hi - lo) / 2


def compare_checks(sa: list, sb: list) -> list:
    """Side-by-side check entries of two summaries (see :class:`Comparison`)."""
    key = lambda e: (e.get("name"), e.get("slice", ""))  # noqa: E731
    ia, ib = {key(e): e for e in sa}, {key(e): e for e in sb}
    out = []
    for k in list(ia) + [k for k in ib if k not in ia]:
        ea, eb = ia.get(k), ib.get(k)
        row = {"name": k[0], "slice": k[1], "axis": (ea or eb).get("axis"),
               "only": None if (ea and eb) else ("a" if ea else "b")}
        for tag, e in (("a", ea), ("b", eb)):
            e = e or {}
            row[f"theory_{tag}"] = e.get("theory")
            row[f"fitted_{tag}"] = e.get("fitted")
            row[f"ci_{tag}"] = [e.get("ci_low"), e.get("ci_high")] if e else [None, None]
        fa, fb = row["fitted_a"], row["fitted_b"]
        row["diff"] = row["exceeds"] = row["outside"] = None
        if fa is not None and fb is not None:
            row["diff"] = fb - fa
            ha, hb = _half(ea), _half(eb)
            if ha is not None and hb is not None:
                row["exceeds"] = bool(abs(fb - fa) > math.hypot(ha, hb))
                row["outside"] = bool(not (ea["ci_low"] <= fb <= ea["ci_high"]) or not (eb["ci_low"] <= fa <= eb["ci_high"]))
        out.append(row)
    return out


def _rel(x, y):
    den = np.maximum(np.abs(x), np.abs(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(y - x) / np.where(den > 0, den, 1.0)
    return np.where((x == y), 0.0, r)  # equal values (inf == inf) differ by nothing


def compare_rows(ra, rb, model, *, rtol: float = RTOL, top: int = 10, axes=None):
    """Row-level comparison of two stored tables of ``model`` on shared ``config_hash``.

    ``axes``: the coordinates that name a row in the listing of the most different rows
    (default: every parameter and the seed; :func:`compare` passes the swept axes).

    Returns ``(metrics, rows, shared, only_a, only_b, status_changes)`` (see :class:`Comparison`).
    Vector metrics are compared entry by entry (the largest entry difference counts).
    """
    ha = set(ra["config_hash"]) if len(ra) else set()
    hb = set(rb["config_hash"]) if len(rb) else set()
    shared = sorted(ha & hb)
    A = ra.set_index("config_hash").loc[shared] if shared else ra.iloc[:0]
    B = rb.set_index("config_hash").loc[shared] if shared else rb.iloc[:0]
    coords = (list(axes) if axes is not None else [p.name for p in model.params]) + ["seed"]
    metrics, worst = [], []
    for m in model.metrics:
        if m.name not in A.columns or m.name not in B.columns:
            continue
        va, vb = list(A[m.name]), list(B[m.name])
        rel = np.full(len(shared), np.nan)
        null_mismatch = 0
        for i, (x, y) in enumerate(zip(va, vb)):
            xn = x is None or (isinstance(x, float) and math.isnan(x))
            yn = y is None or (isinstance(y, float) and math.isnan(y))
            if xn or yn:
                null_mismatch += xn != yn
                continue
            x, y = np.asarray(x, float), np.asarray(y, float)
            if x.shape != y.shape:
                null_mismatch += 1
                continue
            rel[i] = float(np.max(_rel(x, y))) if x.size else 0.0
        ok = np.isfinite(rel)
        metrics.append({"metric": m.name, "shared": int(ok.sum()),
                        "max_rel_diff": float(rel[ok].max()) if ok.any() else None,
                        "n_beyond_rtol": int((rel[ok] > rtol).sum()), "null_mismatch": int(null_mismatch)})
        for i in np.argsort(np.where(ok, -rel, np.inf))[:top]:
            if ok[i] and rel[i] > rtol:
                worst.append((float(rel[i]), i, m.name))
    worst.sort(key=lambda t: -t[0])
    rows = []
    for r, i, name in worst[:top]:
        a_row, b_row = A.iloc[i], B.iloc[i]
        rows.append({"config_hash": shared[i], **{c: _py(a_row[c]) for c in coords if c in A.columns},
                     "metric": name, "a": _py(a_row[name]), "b": _py(b_row[name]), "rel_diff": r})
    changes: dict = {}
    if shared:
        for x, y in zip(A["status"], B["status"]):
            if x != y:
                changes[f"{x} -> {y}"] = changes.get(f"{x} -> {y}", 0) + 1
    return metrics, rows, len(shared), len(ha - hb), len(hb - ha), changes


def _py(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _diff_keys(x, y, prefix=""):
    out = {}
    for k in sorted(set(x) | set(y)):
        u, v = x.get(k), y.get(k)
        if isinstance(u, dict) and isinstance(v, dict):
            out.update(_diff_keys(u, v, f"{prefix}{k}."))
        elif u != v:
            out[f"{prefix}{k}"] = (u, v)
    return out


def compare(a, b, *, rtol: float = RTOL, top: int = 10) -> Comparison:
    """Compare result directories ``a`` and ``b`` (paths or ``Results``): checks side by side
    and shared rows metric by metric (see the module docstring)."""
    from toyscale.models import get_model
    from toyscale.store import ResultStore

    da, db = (Path(getattr(x, "dir", x)) for x in (a, b))
    sa, sb = ResultStore(da), ResultStore(db)
    ma, mb = sa.read_meta(), sb.read_meta()
    model_a, model_b = ma["experiment"]["model"], mb["experiment"]["model"]
    if model_a != model_b:
        raise UserError("DIR2", f"{db} holds model {model_b}, {da} holds {model_a}; allowed: two directories "
                                "of the same model")
    res = Comparison(a=str(da), b=str(db), rtol=rtol)
    res.experiments = _diff_keys(ma["experiment"], mb["experiment"])
    res.checks = compare_checks(_summary(da), _summary(db))
    (res.metrics, res.rows, res.shared, res.only_a, res.only_b,
     res.status_changes) = compare_rows(sa.load(), sb.load(), get_model(model_a), rtol=rtol, top=top,
                                        axes=list(dict.fromkeys([*ma["experiment"].get("sweep", {}),
                                                                 *mb["experiment"].get("sweep", {})])))
    return res


def _f(v, fmt="+.4f"):
    return "—" if v is None else f"{v:{fmt}}"


def _ci(c):
    return "" if c is None or None in c else f" [{c[0]:+.3f}, {c[1]:+.3f}]"


def text(res: Comparison) -> str:
    """The comparison as Markdown tables and a few lines (what ``toyscale compare`` prints)."""
    out = [f"A = {res.a}", f"B = {res.b}"]
    if res.experiments:
        out.append("experiments differ in: " + "; ".join(f"{k}: {u!r} -> {v!r}" for k, (u, v) in res.experiments.items()))
    if res.checks:
        out += ["", "| check | slice | theory | fitted A [95% CI] | fitted B [95% CI] | B - A | exceeds CIs |",
                "|---|---|---|---|---|---|---|"]
        for c in res.checks:
            th = c["theory_a"] if c["theory_a"] is not None else c["theory_b"]
            ex = {True: "YES", False: "no", None: "—"}[c["exceeds"]]
            if c["only"]:
                ex = f"only in {c['only'].upper()}"
            out.append(f"| {c['name']} | {c['slice']} | {_f(th, '+.3f')} | {_f(c['fitted_a'])}{_ci(c['ci_a'])} | "
                       f"{_f(c['fitted_b'])}{_ci(c['ci_b'])} | {_f(c['diff'], '+.2e')} | {ex} |")
    else:
        out += ["", "no checks in either summary.json (run `toyscale report DIR` first)"]
    out += ["", f"rows: {res.shared} shared, {res.only_a} only in A, {res.only_b} only in B"
                + (f"; status changes {res.status_changes}" if res.status_changes else "; no status changes")]
    if res.metrics:
        out += ["", f"| metric | shared rows | max relative difference | rows > {res.rtol:g} | null in one only |",
                "|---|---|---|---|---|"]
        for m in res.metrics:
            out.append(f"| {m['metric']} | {m['shared']} | {_f(m['max_rel_diff'], '.3e')} | {m['n_beyond_rtol']} | "
                       f"{m['null_mismatch']} |")
    if res.rows:
        out += ["", "most different rows:"]
        for r in res.rows:
            coords = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("config_hash", "metric", "a", "b", "rel_diff"))
            out.append(f"  {r['metric']}: {r['a']} vs {r['b']} (rel. {r['rel_diff']:.2e}) at {coords}")
    return "\n".join(out)


def add_parser(sub) -> None:
    """Add ``toyscale compare DIR1 DIR2 [--rtol R] [--top K] [--json]`` to the CLI's subparsers."""
    p = sub.add_parser("compare", help="compare two result directories: fitted exponents and shared rows",
                       description="Put the theory-vs-fit tables of two runs side by side (differences, and "
                                   "whether they exceed the intervals) and compare the rows they share "
                                   "(same configuration hash): max relative difference per metric.")
    p.add_argument("dir1", help="first output directory (A)")
    p.add_argument("dir2", help="second output directory (B)")
    p.add_argument("--rtol", type=float, default=RTOL, help=f"relative difference counted as a change (default: {RTOL:g})")
    p.add_argument("--top", type=int, default=10, help="most different rows to list (default: 10)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON (default: text)")
    p.set_defaults(func=cli)


def cli(args) -> int:
    """``toyscale compare``: exit 0 (a comparison is not a test; read the table)."""
    if not (args.rtol >= 0 and math.isfinite(args.rtol)):
        raise UserError("--rtol", f"{args.rtol}; allowed: a finite number >= 0")
    if args.top < 0:
        raise UserError("--top", f"{args.top}; allowed: an integer >= 0")
    res = compare(args.dir1, args.dir2, rtol=args.rtol, top=args.top)
    if args.json:
        print(json.dumps(res.as_dict(), indent=2, default=_py))
    else:
        print(text(res))
    sys.stdout.flush()
    return 0
