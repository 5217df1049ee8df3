"""benchmarks/run_all.py keeps one RESULTS.md section per device and the hand-written notes."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_one_section_per_device_and_hand_notes_kept():
    r = _run_all()
    old = (f"{r.TITLE}\n\nWritten by x.\nDevice: cpu: cpu x 1; host: x86_64.\n\n| table |\n\n"
           f"{r.HAND_NOTES}\n\n* a note\n")
    m1 = r.merge_results(old, f"{r.DEVICE_HEADING}gpu: NVIDIA H200 x 1\n\ngpu table\n")
    assert f"{r.DEVICE_HEADING}cpu: cpu x 1" in m1 and "| table |" in m1 and "gpu table" in m1
    m2 = r.merge_results(m1, f"{r.DEVICE_HEADING}cpu: cpu x 1\n\nnew cpu table\n")
    assert "| table |" not in m2 and "new cpu table" in m2 and "gpu table" in m2
    assert m2.count(r.HAND_NOTES) == 1 and m2.rstrip().endswith("* a note")
    assert m2.index("cpu: cpu x 1") < m2.index("gpu: NVIDIA") < m2.index(r.HAND_NOTES)
    assert r.merge_results("", f"{r.DEVICE_HEADING}cpu: cpu x 1\n\nt\n").startswith(r.TITLE)
