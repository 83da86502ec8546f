"""Chapter metadata is enforced: area, why, 2-4 measurable outcomes mapped to G1-G5; the TOC's
parts keep IoME and global health apart; every goal is covered by at least two chapters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from iome import chapters as ch

GOOD = """---
course:
  area: iome
  why: It compares how two nations pay for care and who bears the cost.
  outcomes:
    - text: Compare out-of-pocket shares between two named countries.
      goals: [G2]
    - text: Explain one limit of a national average.
      goals: [G1, G3]
---

(x)=
# A chapter

Text.
"""


def write(tmp_path: Path, text: str, folder: str = "iome") -> Path:
    path = tmp_path / "book" / folder / "chapter.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_valid_chapter_parses(tmp_path):
    c = ch.parse_chapter(write(tmp_path, GOOD), folder_area="iome")
    assert c.area == "iome" and c.title == "A chapter" and c.goals == {"G1", "G2", "G3"}


@pytest.mark.parametrize("change, field", [
    (lambda t: t.replace("course:", "other:"), "course"),
    (lambda t: t.replace("area: iome", "area: medicine"), "course.area"),
    (lambda t: t.replace("  why: It compares how two nations pay for care and who bears the cost.\n", ""), "course.why"),
    (lambda t: t.replace("    - text: Explain one limit of a national average.\n      goals: [G1, G3]\n", ""),
     "course.outcomes"),
    (lambda t: t.replace("Compare out-of-pocket", "Understand out-of-pocket"), "course.outcomes[1].text"),
    (lambda t: t.replace("goals: [G2]", "goals: [G7]"), "course.outcomes[1].goals"),
    (lambda t: t.replace("goals: [G2]", "goals: []"), "course.outcomes[1].goals"),
    (lambda t: t.replace("# A chapter", "A chapter"), "title"),
])
def test_invalid_metadata_names_file_and_field(tmp_path, change, field):
    path = write(tmp_path, change(GOOD))
    with pytest.raises(ch.MetadataError) as err:
        ch.parse_chapter(path, folder_area="iome")
    assert err.value.field == field
    assert str(path) in str(err.value) and f"'{field}'" in str(err.value)


def test_area_must_match_the_folder(tmp_path):
    with pytest.raises(ch.MetadataError, match="course.area"):
        ch.parse_chapter(write(tmp_path, GOOD, "global-health"), folder_area="global-health")


def test_every_chapter_in_the_toc_is_valid():
    """The book's chapters are the TOC's files in the area folders (a school drops a chapter by
    editing _toc.yml alone); each of them has valid metadata."""
    from iome.coverage import toc_docs
    found = ch.load_chapters(ROOT / "book")
    in_toc = [d for d in toc_docs(ROOT) if d.split("/")[:2] in (["book", a] for a in ch.CHAPTER_FOLDERS)]
    assert [c.path.relative_to(ROOT).with_suffix("").as_posix() for c in found] == in_toc
    assert len(found) >= 2


def test_a_bad_chapter_fails_the_real_build_with_file_and_field(tmp_path):
    """A throwaway book using the course's Sphinx extension: the build must stop and say why."""
    (tmp_path / "_vendor").symlink_to(ROOT / "_vendor")
    (tmp_path / "_config.yml").write_text(
        "title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
        "sphinx:\n  extra_extensions: [iome.sphinxext]\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n  - file: book/iome/chapter\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "index.md").write_text("# Index\n")
    bad = write(tmp_path, GOOD.replace("goals: [G2]", "goals: [G9]"))
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(tmp_path)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert str(bad) in out and "course.outcomes[1].goals" in out


def toc_parts() -> list[dict]:
    return yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]


def test_toc_parts_keep_the_areas_apart():
    parts = {p["caption"]: [c["file"] for c in p["chapters"]] for p in toc_parts()}
    captions = list(parts)
    assert captions[0].startswith("Part I") and "Two distinct areas" in captions[0]
    comparing = next(c for c in captions if "Comparing nations" in c)
    global_health = next(c for c in captions if c.startswith("Part III") and "Global health" in c)
    chapters = {c.path.relative_to(ROOT).with_suffix("").as_posix(): c for c in ch.load_chapters(ROOT / "book")}
    assert {chapters[f].area for f in parts[captions[0]]} == {"iome", "global-health", "bridge"}
    assert {chapters[f].area for f in parts[comparing]} == {"iome"}
    assert {chapters[f].area for f in parts[global_health]} == {"global-health"}
    for f in (f for files in parts.values() for f in files):
        assert (ROOT / f"{f}.md").is_file() or (ROOT / f"{f}.ipynb").is_file(), f"_toc.yml lists a missing file: {f}"


def test_every_goal_is_covered_by_at_least_two_chapters():
    found = ch.load_chapters(ROOT / "book")
    for goal in ch.GOALS:
        covering = [c.title for c in found if goal in c.goals]
        assert len(covering) >= 2, f"{goal} is covered only by {covering}"
