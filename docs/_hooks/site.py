"""mkdocs hook: the README is the site's home page, benchmarks/RESULTS.md its benchmark page and
figures/ its images, and every relative link of a page (written to work on GitHub, relative to
the page's file in the repository) is mapped onto the site. A link to a repository file that is
not part of the site (a source file, an experiment) becomes plain text; a link to a file the
repository lacks is left alone, so ``mkdocs build --strict`` fails on it."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
#: Repository files shown on the site, by site path.
EXTRA = {"index.md": "README.md", "benchmarks.md": "benchmarks/RESULTS.md"}
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def on_files(files, config):
    for uri, src in EXTRA.items():
        files.append(File.generated(config, uri, abs_src_path=str(ROOT / src)))
    for png in sorted((ROOT / "figures").rglob("*.png")):
        files.append(File.generated(config, png.relative_to(ROOT).as_posix(), abs_src_path=str(png)))
    return files


def _repo_path(page_uri: str) -> str:
    """The repository path of the file a site page comes from."""
    return EXTRA.get(page_uri, "docs/" + page_uri)


def _site_path(repo: str) -> str | None:
    """Where repository file ``repo`` lives on the site, or None when it is not part of it."""
    for uri, src in EXTRA.items():
        if repo == src:
            return uri
    if repo.startswith("docs/") and not repo.startswith("docs/_hooks/"):
        return repo[len("docs/"):]
    if repo.startswith("figures/"):
        return repo
    return None


def _rewrite(match, page_uri: str) -> str:
    bang, text, target = match.groups()
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
        return match.group(0)
    path, _, frag = target.partition("#")
    repo = posixpath.normpath(posixpath.join(posixpath.dirname(_repo_path(page_uri)), path))
    if repo.startswith("..") or not (ROOT / repo).exists():
        return match.group(0)  # a broken link: left for mkdocs to report
    site = _site_path(repo)
    if site is None:
        return text if not bang else match.group(0)
    rel = posixpath.relpath(site, posixpath.dirname(page_uri) or ".")
    return f"{bang}[{text}]({rel}{'#' + frag if frag else ''})"


def on_page_markdown(markdown, page, config, files):
    out, fenced = [], False
    for line in markdown.split("\n"):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
        out.append(line if fenced else LINK.sub(lambda m: _rewrite(m, page.file.src_uri), line))
    return "\n".join(out)
