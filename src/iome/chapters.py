"""Chapter metadata: every chapter says which area it belongs to, why, and what students will be
able to do (learning outcomes mapped to the essay's five goal areas G1-G5).

Used by the Sphinx extension (to fail the build, show the area banner and the coverage page)
and by the tests. Errors name the file and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

AREAS = {
    "iome": "Internationalization of medical education (IoME)",
    "global-health": "Global health",
    "bridge": "Bridge: IoME and global health together",
}
AREA_TAGLINE = {
    "iome": "compares nations: their health systems, economics, law, ethics and outcome measures",
    "global-health": "treats health problems and solutions that cross national borders",
    "bridge": "uses the comparative lens and the global-health lens on purpose, side by side",
}
GOALS = {
    "G1": "Social, intercultural and ethical sensitivity",
    "G2": "Differences between health-care delivery systems",
    "G3": "Global public-health challenges",
    "G4": "Global biomedical research",
    "G5": "International networking, leadership and collaboration",
}
CHAPTER_FOLDERS = tuple(AREAS)  # book/<area>/<chapter>.md
# An outcome is measurable when it starts with an observable verb, not "understand" or "know".
VAGUE_VERBS = {"understand", "know", "appreciate", "learn", "be", "become", "realise", "realize",
               "grasp", "see", "feel", "gain"}
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.S)


class MetadataError(ValueError):
    def __init__(self, path, field: str, problem: str):
        self.path, self.field = Path(path), field
        super().__init__(f"{path}: chapter metadata field '{field}' {problem}. "
                         "See book/adopting/chapter-template.md for the expected front matter.")


@dataclass(frozen=True)
class Outcome:
    text: str
    goals: tuple[str, ...]


@dataclass(frozen=True)
class Chapter:
    path: Path
    title: str
    area: str
    why: str
    outcomes: tuple[Outcome, ...]
    exercise: str | None = None  # name of the chapter's graded assignment in exercises/source/

    @property
    def goals(self) -> set[str]:
        return {g for o in self.outcomes for g in o.goals}


def front_matter(text: str) -> tuple[dict, int]:
    """YAML front matter of a MyST file and the offset where the body starts."""
    match = _FRONT.match(text)
    if not match:
        return {}, 0
    data = yaml.safe_load(match.group(1)) or {}
    return (data if isinstance(data, dict) else {}), match.end()


def title_of(body: str) -> str:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def parse_chapter(path: Path, text: str | None = None, folder_area: str | None = None) -> Chapter:
    """Read and validate a chapter's metadata (the ``course`` block of its front matter)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if text is None else text
    try:
        meta, start = front_matter(text)
    except yaml.YAMLError as exc:
        raise MetadataError(path, "front matter", f"is not valid YAML ({exc})") from None
    course = meta.get("course")
    if not isinstance(course, dict):
        raise MetadataError(path, "course", "is missing: add a `course:` block with area, why and outcomes")
    area = course.get("area")
    if area not in AREAS:
        raise MetadataError(path, "course.area", f"must be one of {', '.join(AREAS)} (got {area!r})")
    if folder_area and area != folder_area:
        raise MetadataError(path, "course.area", f"is {area!r} but the file sits in book/{folder_area}/; "
                            "move the file or fix the area")
    why = course.get("why")
    if not isinstance(why, str) or len(why.split()) < 6:
        raise MetadataError(path, "course.why", "must be one sentence (at least six words) on why the chapter "
                            "belongs to its area")
    outcomes = course.get("outcomes")
    if not isinstance(outcomes, list) or not 2 <= len(outcomes) <= 4:
        raise MetadataError(path, "course.outcomes", "must list 2 to 4 learning outcomes")
    parsed = []
    for i, item in enumerate(outcomes, 1):
        where = f"course.outcomes[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
            raise MetadataError(path, where, "needs `text:` (what students will be able to do)")
        verb = item["text"].split()[0].lower().strip(",.:;")
        if verb in VAGUE_VERBS:
            raise MetadataError(path, f"{where}.text", f"starts with '{verb}', which cannot be measured; start "
                                "with an observable verb such as compare, calculate, explain or design")
        goals = item.get("goals")
        goals = [goals] if isinstance(goals, str) else goals
        if not goals or not all(g in GOALS for g in goals):
            raise MetadataError(path, f"{where}.goals", f"must list one or more of {', '.join(GOALS)} "
                                f"(got {item.get('goals')!r})")
        parsed.append(Outcome(item["text"].strip(), tuple(dict.fromkeys(goals))))
    exercise = course.get("exercise")
    if exercise is not None and (not isinstance(exercise, str) or not re.fullmatch(r"[a-z0-9-]+", exercise)):
        raise MetadataError(path, "course.exercise", "must be an assignment folder name such as health-economics")
    title = title_of(text[start:])
    if not title:
        raise MetadataError(path, "title", "is missing: the chapter needs a '# Title' line")
    return Chapter(path, title, area, why.strip(), tuple(parsed), exercise)


def chapter_files(book: Path) -> list[tuple[Path, str]]:
    """Every chapter file in the area folders, with the area its folder implies (TOC or not)."""
    return [(p, area) for area in CHAPTER_FOLDERS for p in sorted((book / area).glob("*.md"))]


def load_chapters(book: Path) -> list[Chapter]:
    """The book's chapters: those listed in ``_toc.yml`` next to ``book/`` (in TOC order), so a school
    drops or reorders a chapter by editing the TOC alone; every file in the area folders without a TOC."""
    root = Path(book).parent
    if (root / "_toc.yml").is_file():
        from .coverage import toc_chapters
        return toc_chapters(root)
    return [parse_chapter(p, folder_area=area) for p, area in chapter_files(book)]


def banner_nodes(ch: Chapter, docname: str, exercise_doc: str | None = None, translate=lambda s: s) -> list:
    """The block shown under each chapter title: area, why, outcomes with goal areas, graded exercise.

    Built as docutils nodes after parsing (Sphinx ``doctree-read``), so the chapter source is not
    changed and warnings keep the file's own line numbers. ``translate`` renders chapter text (why,
    outcomes) in the book's language; the package's own words go through :mod:`iome.i18n`.
    """
    from docutils import nodes
    from sphinx import addnodes

    from .i18n import _

    def para(*children):
        return nodes.paragraph("", "", *children)

    box = nodes.admonition(classes=["iome-area", f"iome-area-{ch.area}"])
    box += nodes.title("", _("Area: {area}").format(area=_(AREAS[ch.area])))
    def chapter_text(node, message):
        # the gettext builder extracts rawsource of nodes with a source: why and outcomes land in the
        # page's own catalogue, next to its prose
        node.rawsource, node.source, node.line = message, str(ch.path), 1
        return node

    box += chapter_text(para(nodes.Text(_("This chapter {tagline}.").format(tagline=_(AREA_TAGLINE[ch.area])) + " "),
                             nodes.strong("", _("Why here:")), nodes.Text(" " + translate(ch.why))), ch.why)
    box += para(nodes.strong("", _("Learning outcomes.")), nodes.Text(" " + _("By the end of the chapter you can:")))
    items = nodes.enumerated_list(enumtype="arabic", prefix="", suffix=".")
    for o in ch.outcomes:
        goals = "; ".join(f"{g} {_(GOALS[g]).lower()}" for g in o.goals)
        items += nodes.list_item("", chapter_text(para(nodes.Text(translate(o.text) + " "),
                                                       nodes.emphasis("", f"({goals})")), o.text))
    box += items
    if exercise_doc:
        ref = addnodes.pending_xref("", nodes.inline("", exercise_doc, classes=["xref", "std", "std-doc"]),
                                    refdomain="std", reftype="doc", reftarget="/" + exercise_doc, refdoc=docname,
                                    refexplicit=False, refwarn=True)
        box += para(nodes.strong("", _("Graded exercise:")), nodes.Text(" "), ref)
    return [box]


# ---- text helpers for the sentences chapters compute from the data --------------------------------

def number(value, unit: str = "") -> str:
    """A figure as prose shows it: 1 decimal from 1 up, whole numbers from 100 up, 2 significant
    figures below 1 (0.043, never "0.0"); "no data" for a missing value, never "nan"."""
    import math

    from .i18n import _
    try:
        x = float(value)
    except (TypeError, ValueError):
        return _("no data")
    if math.isnan(x):
        return _("no data")
    if x == 0:
        text = "0"
    elif abs(x) >= 100:
        text = f"{x:,.0f}"
    elif abs(x) >= 1:
        text = f"{x:,.1f}"
    else:
        text = f"{x:.2g}" if abs(x) >= 1e-4 else f"{x:.1e}"
    return f"{text}{unit}"


def country_name(iso3: str) -> str:
    """Name of a country in the course language (the code itself only if the data has no name)."""
    from .i18n import country_names
    return country_names().get(iso3, iso3)


def country_list(iso3s) -> str:
    """'Tuvalu and South Sudan': names, never ISO codes, joined in the course language."""
    from .i18n import join_names
    return join_names([country_name(c) for c in iso3s])


def latest_for(frame, iso3: str, column: str = "value"):
    """(value, year) of ``iso3``'s most recent non-missing ``column`` in a long frame, or (None, None):
    the nearest year available rather than a blank."""
    rows = frame[(frame["iso3"] == iso3)].dropna(subset=[column])
    if not len(rows):
        return None, None
    row = rows.sort_values("year").iloc[-1] if "year" in rows else rows.iloc[-1]
    return row[column], (int(row["year"]) if "year" in rows else None)
