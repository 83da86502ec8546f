"""Outcome coverage: which declared learning outcomes the graded exercises assess.

Chapters come from ``_toc.yml`` (a school drops or reorders chapters by editing the TOC alone; a
chapter file left out of the TOC is not part of the book). Outcomes are assessed by graded cells of
the nbgrader sources (``exercises/source/*/*.ipynb``) that carry the cell metadata
``"iome": {"outcomes": ["<chapter-stem>#<n>", ...]}`` (``<n>``: 1-based position in the chapter's
``course.outcomes``). The book's coverage page and the build warning read :func:`coverage`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import chapters as ch

TAG = re.compile(r"^([a-z0-9-]+)#([1-9][0-9]*)$")


class CoverageError(ValueError):
    """A TOC entry or an outcome tag that points to nothing."""


def toc_docs(root: Path) -> list[str]:
    """Every file of ``<root>/_toc.yml`` in reading order, as paths without suffix (``book/iome/x``)."""
    path = Path(root) / "_toc.yml"
    try:
        toc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CoverageError(f"{path}: cannot read the table of contents ({str(exc).splitlines()[0]})") from None
    out = [toc["root"]] if toc.get("root") else []

    def walk(entries):
        for entry in entries or []:
            if isinstance(entry, dict):
                if entry.get("file"):
                    out.append(re.sub(r"\.(md|ipynb)$", "", str(entry["file"])))
                for key in ("parts", "chapters", "sections"):
                    walk(entry.get(key))
    for key in ("parts", "chapters", "sections"):
        walk(toc.get(key))
    return out


def toc_chapter_files(root: Path) -> list[tuple[Path, str]]:
    """Chapter files listed in the TOC (those in an area folder, book/<area>/) with their area."""
    found = []
    for doc in toc_docs(root):
        parts = doc.split("/")
        if len(parts) == 3 and parts[0] == "book" and parts[1] in ch.CHAPTER_FOLDERS:
            path = Path(root) / f"{doc}.md"
            if path.is_file():
                found.append((path, parts[1]))
    return found


def toc_chapters(root: Path) -> list[ch.Chapter]:
    return [ch.parse_chapter(p, folder_area=area) for p, area in toc_chapter_files(root)]


@dataclass
class Assessment:
    assignment: str
    cell: str  # nbgrader grade_id
    points: float


@dataclass
class Row:
    chapter: ch.Chapter
    number: int
    outcome: ch.Outcome
    assessed_by: list[Assessment] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.chapter.path.stem


def outcome_tags(course: Path) -> dict[str, list[Assessment]]:
    """'<stem>#<n>' -> graded cells that assess it, from every source notebook's cell metadata."""
    tags: dict[str, list[Assessment]] = {}
    for nb_path in sorted(Path(course).glob("source/*/*.ipynb")):
        cells = json.loads(nb_path.read_text(encoding="utf-8")).get("cells", [])
        for i, cell in enumerate(cells):
            meta = cell.get("metadata", {})
            nbg = meta.get("nbgrader", {})
            listed = (meta.get("iome") or {}).get("outcomes", [])
            if not listed:
                continue
            where = f"{nb_path}, cell {i + 1} ({nbg.get('grade_id', '?')})"
            if not (nbg.get("grade") or nbg.get("task")):
                raise CoverageError(f"{where}: iome.outcomes on a cell nbgrader does not grade; tag the graded cell")
            if not isinstance(listed, list):
                raise CoverageError(f"{where}: iome.outcomes must be a list such as [\"health-economics#1\"]")
            for tag in listed:
                if not isinstance(tag, str) or not TAG.match(tag):
                    raise CoverageError(f"{where}: outcome tag {tag!r} must look like 'health-economics#1'")
                tags.setdefault(tag, []).append(
                    Assessment(nb_path.parent.name, nbg.get("grade_id", "?"), float(nbg.get("points", 0) or 0)))
    return tags


def coverage(root: Path, course: Path | None = None) -> list[Row]:
    """One row per declared outcome of every TOC chapter, with the graded cells that assess it.

    Raises CoverageError for a tag that names a chapter or outcome that does not exist (unless the
    chapter is simply not in the TOC: a school that drops a chapter keeps its exercise)."""
    root = Path(root)
    chapters = toc_chapters(root)
    tags = outcome_tags(course or root / "exercises")
    rows = [Row(c, n, o) for c in chapters for n, o in enumerate(c.outcomes, 1)]
    by_tag = {f"{r.stem}#{r.number}": r for r in rows}
    in_book = {c.path.stem for c in chapters}
    all_files = {p.stem: p for p, _ in ch.chapter_files(root / "book")}
    for tag, where in tags.items():
        if tag in by_tag:
            by_tag[tag].assessed_by.extend(where)
            continue
        stem = tag.split("#")[0]
        if stem in in_book or stem not in all_files:
            first = where[0]
            raise CoverageError(f"exercises/source/{first.assignment}: cell {first.cell} is tagged {tag!r}, but "
                                + (f"chapter {stem} has fewer outcomes" if stem in in_book
                                   else f"no chapter file is named {stem}.md"))
    return rows


def unassessed(rows: list[Row]) -> list[Row]:
    return [r for r in rows if not r.assessed_by]


def goal_totals(rows: list[Row]) -> dict[str, tuple[int, int]]:
    """Goal area -> (declared outcomes, assessed outcomes)."""
    return {g: (sum(g in r.outcome.goals for r in rows),
                sum(g in r.outcome.goals and bool(r.assessed_by) for r in rows)) for g in ch.GOALS}
