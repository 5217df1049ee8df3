"""The documentation: the site builds with warnings as errors (broken links, anchors and
docstrings fail it), the README's models table lists every model ``toyscale list`` shows, the
walk-through in docs/adding-a-model.md runs as written, the README's commands are the ones CI and the
CLI use, and no heading carries an issue number."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC_PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "RESULTS.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                TOYSCALE_NO_PROGRESS="1")


def _blocks(text: str, lang: str) -> list[str]:
    """The fenced code blocks of ``text`` whose info string is ``lang`` ("" for plain fences)."""
    blocks, current, info = [], None, ""
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if current is None:
                current, info = [], line[3:].strip()
            else:
                if info == lang:
                    blocks.append("".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_site_builds_strict(tmp_path):
    """``mkdocs build --strict``: any warning (a link to a missing page or anchor, a docstring
    griffe cannot parse) fails the build."""
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"),
                          "-d", str(tmp_path / "site")], capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    site = tmp_path / "site"
    assert (site / "index.html").exists() and (site / "api" / "index.html").exists()
    assert "toyscale.run" in (site / "api" / "index.html").read_text()
    # the README is the home page and its links reach the results pages
    assert 'href="results/random_features/"' in (site / "index.html").read_text()


def test_readme_models_table_lists_every_model():
    out = subprocess.run([sys.executable, "-m", "toyscale", "list"], capture_output=True, text=True, env=_env(),
                         check=True).stdout
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Models\n"):]
    section = section[:section.index("\n## ", 1)]
    table = {m.group(1) for m in re.finditer(r"^\| `([a-z_0-9]+)` \|", section, flags=re.M)}
    assert listed and table == listed, (sorted(table), sorted(listed))
    for name in listed:  # each row links its results page, and the page exists
        assert (ROOT / "docs" / "results" / f"{name}.md").exists(), name


def test_adding_a_model_walkthrough_runs(tmp_path):
    """The page's Python blocks, run in order as one script, with its TOML block written where
    the page says: a model defined outside toyscale's code runs through ``toyscale.run``."""
    text = (ROOT / "docs" / "adding-a-model.md").read_text()
    (toml,) = _blocks(text, "toml")
    path = toml.splitlines()[0].lstrip("# ").strip()
    assert path == "experiments/sample_mean.toml"
    (tmp_path / "experiments").mkdir()
    (tmp_path / path).write_text(toml)
    code = "\n\n".join(_blocks(text, "python"))
    assert "toyscale.run(" in code
    (tmp_path / "walkthrough.py").write_text(code)
    res = subprocess.run([sys.executable, "walkthrough.py"], capture_output=True, text=True, env=_env(), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    (entry,) = json.loads((tmp_path / "out" / "sample_mean" / "summary.json").read_text())["checks"]
    # theory: slope -1 exactly; 256 seeds put the fit within 0.1 of it
    assert entry["theory"] == -1.0 and abs(entry["fitted"] + 1.0) < 0.1, entry
    assert (tmp_path / "out" / "sample_mean" / "report.md").exists()


def test_no_issue_numbers_in_doc_headings():
    bad = [f"{p.relative_to(ROOT)}: {line}" for p in DOC_PAGES for line in p.read_text().splitlines()
           if line.startswith("#") and re.search(r"\bissues?[ -]?\d+", line, flags=re.I)]
    assert not bad, bad


def test_ci_runs_the_readme_test_command():
    """The README's two commands for a fresh machine; CI (``.ci/run``) runs the second verbatim."""
    bash = _blocks((ROOT / "README.md").read_text(), "bash")
    main, tests = bash[0].strip(), bash[1].strip()
    assert main.endswith("pip install -e . && toyscale run experiments/quickstart.toml")
    assert (ROOT / "experiments" / "quickstart.toml").exists()
    assert tests.endswith("pip install -e '.[test]' && python -m pytest")
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_bad_input_example_is_what_the_command_prints():
    text = (ROOT / "README.md").read_text()
    (block,) = [b for b in _blocks(text, "") if b.startswith("$ toyscale run")]
    cmd, expected = block.strip().splitlines()
    res = subprocess.run([sys.executable, "-m", "toyscale", *cmd.split()[2:]], capture_output=True, text=True,
                         env=_env(), cwd=ROOT)
    assert res.returncode == 2 and (res.stdout + res.stderr).strip() == expected, (res.returncode, res.stderr)
