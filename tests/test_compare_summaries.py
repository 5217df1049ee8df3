"""The before/after comparison script finds a changed or missing number and accepts new keys and
numbers filled where there were none."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("compare_summaries", ROOT / "scripts" / "compare_summaries.py")
cs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cs)


def _dir(tmp_path, name, summary):
    d = tmp_path / name
    d.mkdir()
    (d / "summary.json").write_text(json.dumps(summary))
    return d


def test_changed_missing_filled_and_new(tmp_path):
    before = _dir(tmp_path, "b", [{"name": "w", "fitted": -1.5, "ci": [-1.6, -1.4], "theory": None, "figure": "a.png"}])
    same = _dir(tmp_path, "s", [{"name": "w", "fitted": -1.5, "ci": [-1.6, -1.4], "theory": None, "figure": "b.png",
                                 "points": {"x": [1]}}])
    r = cs.compare(before, same)
    assert r["numbers"] == 3 and not r["changed"] and not r["missing"] and r["new"] == {"summary.json.points"}
    moved = _dir(tmp_path, "m", [{"name": "w", "fitted": -1.5 + 1e-6, "ci": [-1.6], "theory": -1.5}])
    r = cs.compare(before, moved)
    assert len(r["changed"]) == 2 and r["filled"] == ["summary.json[0].theory: null -> -1.5"]
    assert cs.main([str(before), str(moved)]) == 1 and cs.main([str(before), str(same)]) == 0
