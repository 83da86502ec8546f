"""The published site shows student versions only: no solution or hidden-test line anywhere."""

from pathlib import Path

from conftest import ROOT
from iome import checks, grading


def all_secrets() -> set[str]:
    found = set()
    for name in grading.assignments(ROOT / "exercises"):
        for nb in (ROOT / "exercises" / "source" / name).glob("*.ipynb"):
            found |= checks.secrets(nb)
    return found


def test_scan_finds_a_planted_leak(tmp_path):
    secret = all_secrets()
    assert secret
    planted = tmp_path / "page.html"
    line = sorted(secret)[0]
    planted.write_text(f"<p>before</p><pre><span>{line[:5]}</span>{line[5:]}</pre>")
    assert checks.find_leaks([planted], secret), "the scanner must see text split across HTML tags"


def test_site_has_no_solutions_or_hidden_tests(site):
    pages = [p for p in site.rglob("*") if p.suffix in {".html", ".ipynb", ".txt", ".md"}]
    assert len(pages) > 10
    exercise_pages = [p for p in pages if "/exercises/" in p.as_posix() and p.suffix == ".html"]
    editions = 1 + len([p for p in site.iterdir() if (p / "book" / "index.html").is_file()])  # es/, ...
    assert len(exercise_pages) == editions * len(grading.assignments(ROOT / "exercises")), \
        "every assignment is in every edition of the book"
    assert checks.find_leaks(pages, all_secrets()) == []


def test_site_exercise_pages_are_student_versions(site):
    for name in grading.assignments(ROOT / "exercises"):
        page = (site / "book" / "exercises" / f"{name}.html").read_text()
        assert "NotImplementedError" in page, f"{name}: answer cells should show the empty stub"
        assert "YOUR ANSWER HERE" in page or "YOUR CODE HERE" in page
