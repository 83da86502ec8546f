"""Answer-leak checks: solutions and hidden tests must never reach the site, the student release
or the feedback students get."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1", re.S)
_WS = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]+>")
MIN_LENGTH = 12  # shorter lines ("chart", "pass") are too common to mean anything


def normalise(text: str) -> str:
    return _WS.sub(" ", text).strip()


def secrets(source_notebook: Path, kinds: tuple[str, ...] = ("SOLUTION", "HIDDEN TESTS")) -> set[str]:
    """Lines inside solution and/or hidden-test regions of a source notebook that appear nowhere in
    its public parts (task text, context cells, visible tests)."""
    nb = nbformat.read(source_notebook, as_version=4)
    secret, public = set(), set()
    for cell in nb.cells:
        regions = [m.group(2) for m in _REGION.finditer(cell.source) if m.group(1) in kinds]
        outside = _REGION.sub("", cell.source)
        whole_cell = cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution")
        if whole_cell and not _REGION.search(cell.source):  # a markdown answer cell is all solution
            regions = [cell.source] if "SOLUTION" in kinds else []
            outside = ""
        for region in regions:
            secret |= {normalise(line) for line in region.splitlines()}
        public |= {normalise(line) for line in outside.splitlines()}
    return {s for s in secret - public if len(s) >= MIN_LENGTH and s not in MARKERS}


def visible_text(path: Path) -> str:
    """What a reader can see in a file: HTML without tags or entities, notebooks as their JSON text."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix in {".html", ".htm"}:
        text = html.unescape(_TAG.sub("", text))
    elif path.suffix == ".ipynb":
        nb = nbformat.reads(text, as_version=4)
        text = "\n".join(c.source for c in nb.cells) + "\n" + "\n".join(
            str(o) for c in nb.cells for o in c.get("outputs", []))
    return normalise(text)


def find_leaks(paths, secret: set[str], markers: tuple[str, ...] = MARKERS) -> list[str]:
    """'file: leaked text' for every secret line or grading marker found in the given files."""
    found = []
    for path in paths:
        text = visible_text(Path(path))
        for item in sorted(secret) + [f"### {m}" for m in markers]:
            if normalise(item) in text:
                found.append(f"{path}: {item[:80]}")
    return found
