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
    """Every chapter file with the area its folder implies."""
    return [(p, area) for area in CHAPTER_FOLDERS for p in sorted((book / area).glob("*.md"))]


def load_chapters(book: Path) -> list[Chapter]:
    return [parse_chapter(p, folder_area=area) for p, area in chapter_files(book)]


def banner_markdown(ch: Chapter, exercise_ready: bool = False) -> str:
    """MyST block inserted under each chapter title: area, why, outcomes with goal areas."""
    lines = [f":::{{admonition}} Area: {AREAS[ch.area]}",
             f":class: iome-area iome-area-{ch.area}",
             f"This chapter {AREA_TAGLINE[ch.area]}. **Why here:** {ch.why}",
             "",
             "**Learning outcomes.** By the end of the chapter you can:",
             ""]
    for i, o in enumerate(ch.outcomes, 1):
        goals = "; ".join(f"{g} {GOALS[g].lower()}" for g in o.goals)
        lines.append(f"{i}. {o.text} *({goals})*")
    if ch.exercise and exercise_ready:
        lines += ["", f"**Graded exercise:** {{doc}}`/book/exercises/{ch.exercise}`"]
    lines.append(":::")
    return "\n".join(lines) + "\n"


def insert_banner(text: str, ch: Chapter, exercise_ready: bool = False) -> str:
    """The chapter text with the banner placed right after its '# Title' line."""
    _, start = front_matter(text)
    body = text[start:]
    lines = body.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("# "):
            lines.insert(i + 1, "\n" + banner_markdown(ch, exercise_ready) + "\n")
            break
    return text[:start] + "".join(lines)
