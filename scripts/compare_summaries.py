"""Compare the numbers of two result directories' summary.json / phases.json / frontiers.json.

    python scripts/compare_summaries.py BEFORE_DIR AFTER_DIR [--rtol 1e-9]

Every number present in BEFORE must be present in AFTER with the same value (relative tolerance
``rtol``); keys only AFTER has (new fields) are listed, not errors. Numbers BEFORE stored as
``null`` that AFTER fills (e.g. a measured slope where the theory gives none) are listed as
"filled". Exit status 1 when a number changed or disappeared.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

FILES = ("summary.json", "phases.json", "frontiers.json")
#: Keys whose value is a path or free text, not a result.
SKIP = {"figure", "curves_figure", "reason", "theory_note"}


def walk(a, b, path, out, rtol):
    if isinstance(a, dict):
        if not isinstance(b, dict):
            out["changed"].append(f"{path}: dict -> {type(b).__name__}")
            return
        for k, v in a.items():
            if k in SKIP:
                continue
            if k not in b:
                out["missing"].append(f"{path}.{k}")
            else:
                walk(v, b[k], f"{path}.{k}", out, rtol)
        out["new"].update(f"{path.split('[')[0]}.{k}" for k in b if k not in a)
    elif isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            out["changed"].append(f"{path}: list length {len(a)} -> {len(b) if isinstance(b, list) else b!r}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", out, rtol)
    elif isinstance(a, bool) or a is None or isinstance(a, str):
        if a is None and b is not None:
            out["filled"].append(f"{path}: null -> {b!r}")
        elif a != b:
            out["changed"].append(f"{path}: {a!r} -> {b!r}")
    elif isinstance(a, (int, float)):
        out["numbers"] += 1
        if not isinstance(b, (int, float)) or isinstance(b, bool) or not math.isclose(a, b, rel_tol=rtol, abs_tol=1e-300):
            out["changed"].append(f"{path}: {a!r} -> {b!r}")


def _checks(name: str, path: Path):
    """The file's content; for summary.json its list of checks (a bare list in directories
    written before summary.json carried run-level records beside them)."""
    doc = json.loads(path.read_text())
    return doc["checks"] if name == "summary.json" and isinstance(doc, dict) else doc


def compare(before: Path, after: Path, rtol: float = 1e-9) -> dict:
    """``{"numbers", "changed", "missing", "filled", "new"}`` over the three result files."""
    out = {"numbers": 0, "changed": [], "missing": [], "filled": [], "new": set()}
    for name in FILES:
        pa, pb = before / name, after / name
        if not pa.exists():
            continue
        if not pb.exists():
            out["missing"].append(name)
            continue
        walk(_checks(name, pa), _checks(name, pb), name, out, rtol)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rtol", type=float, default=1e-9)
    a = ap.parse_args(argv)
    r = compare(a.before, a.after, a.rtol)
    bad = r["changed"] + r["missing"]
    print(f"{a.before} -> {a.after}: {r['numbers']} numbers compared, {len(r['changed'])} changed, "
          f"{len(r['missing'])} missing, {len(r['filled'])} filled, new keys: {sorted(r['new'])}")
    for line in bad[:40] + [f"filled {x}" for x in r["filled"][:20]]:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
