"""Two error paths a new user hits: launching on Slurm without Slurm, and an output directory the
file system refuses. Both must exit 2 with one line and leave nothing behind."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toyscale.cli import main
from toyscale.errors import UserError
from toyscale.store import check_writable

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "experiments" / "quickstart.toml"


def _toyscale(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin")
    return subprocess.run([sys.executable, "-m", "toyscale", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="this machine has Slurm")
def test_launch_slurm_without_slurm_exits_2_with_one_line_and_writes_nothing(tmp_path):
    r = _toyscale(["launch", str(QUICKSTART), "--quick", "--array", "2", "--slurm", "--out", "out/ls"], tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toyscale: --slurm:") and "Traceback" not in r.stderr
    assert "--local" in lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs a /proc file system")
def test_run_into_proc_exits_2_with_one_line_and_no_directory(tmp_path, capsys):
    assert main(["run", str(QUICKSTART), "--quick", "--out", "/proc/nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("toyscale: --out:") and "allowed:" in err[0]
    assert not Path("/proc/nope").exists()


def test_check_writable_probes_without_leaving_anything(tmp_path):
    check_writable(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []  # the probe directory is gone, nothing created
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        check_writable(tmp_path / "f" / "sub")
