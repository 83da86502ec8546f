"""`iome data build` reproduces the committed data/ from the raw public copies, byte for byte."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from iome.databuild import MEDED_FILE, BuildError, build

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "data"

needs_shared = pytest.mark.skipif(
    not (SHARED / "MANIFEST.csv").is_file(),
    reason=f"{SHARED} does not exist: the raw public copies live beside the course's own repository "
           "(../shared/data); a fork has no ../shared, so the rebuild cannot be reproduced here")


def committed_files() -> list[Path]:
    return sorted(p.relative_to(DATA) for p in DATA.rglob("*") if p.is_file() and p.name != "README.md")


@needs_shared
def test_rebuild_reproduces_committed_files_byte_for_byte(tmp_path):
    """Built into a copy of data/ with one file spoiled: the build replaces the whole folder, keeps its
    README.md, and every file equals the committed one."""
    out = tmp_path / "data"
    shutil.copytree(DATA, out)
    (out / "wdi" / "life_expectancy.csv").write_text("iso3,year,value\n", encoding="utf-8")
    notes = build(SHARED, out, curated=DATA)
    built = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and p.name != "README.md")
    assert built == committed_files()
    different = [str(p) for p in built if (out / p).read_bytes() != (DATA / p).read_bytes()]
    assert not different, f"rebuilt files differ from the committed ones: {different}"
    assert (out / "README.md").read_bytes() == (DATA / "README.md").read_bytes()
    assert not list(tmp_path.glob(".data-staging-*")), "the staging folder was not removed"
    assert any("excess_mortality" in n and "Transnistria" in n for n in notes)


@needs_shared
def test_a_changed_raw_file_is_refused(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(SHARED, raw)
    target = raw / "world-mortality" / "excess-mortality.csv"
    target.write_text(target.read_text(encoding="utf-8").replace("11156", "11157", 1), encoding="utf-8")
    with pytest.raises(BuildError, match="sha256 differs from MANIFEST.csv"):
        build(raw, tmp_path / "out", curated=DATA)


@needs_shared
def test_a_curated_row_without_citation_is_refused(tmp_path):
    curated = tmp_path / "curated"
    curated.mkdir()
    with (DATA / MEDED_FILE).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[2][rows[0].index("sources")] = "see-the-regulator"
    with (curated / MEDED_FILE).open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    with pytest.raises(BuildError, match=r"row 3: every row needs a citation URL"):
        build(SHARED, tmp_path / "out", curated=curated)


# --- bad raw input: a one-line error naming file, row and rule, and data/ left unchanged ---------

import hashlib  # noqa: E402

from click.testing import CliRunner  # noqa: E402

from iome import databuild  # noqa: E402

LIFE = "wdi/datapoints/ddf--datapoints--sp_dyn_le00_in--by--geo--time.csv"


def sha256s(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def raw(tmp_path) -> Path:
    """A writable copy of the raw files (the tests tamper with it and re-record MANIFEST.csv's sha256, as a
    maintainer who obtained a new raw copy would, so the build reads the changed file)."""
    target = tmp_path / "raw"
    shutil.copytree(SHARED, target)
    for p in target.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return target


@pytest.fixture()
def out(tmp_path) -> Path:
    """A copy of the committed data/ to build into: its sha256s must not change when a build fails."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def tamper(raw: Path, local: str, edit) -> None:
    """Apply ``edit(lines)`` to a raw file's lines and record the new sha256 in MANIFEST.csv."""
    path = raw / local
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(edit(lines)), encoding="utf-8")
    rerecord(raw, local)


def rerecord(raw: Path, local: str) -> None:
    """Record a changed raw file's sha256 in MANIFEST.csv."""
    manifest = raw / "MANIFEST.csv"
    with manifest.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["local_path"] == local:
            row["sha256"] = databuild.sha256(raw / local)
    with manifest.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def refused(raw: Path, out: Path, pattern: str, curated: Path = DATA) -> str:
    before = sha256s(out)
    with pytest.raises(BuildError, match=pattern) as info:
        build(raw, out, curated=curated)
    assert sha256s(out) == before, "a failed build changed data/"
    assert not list(out.parent.glob(".data-staging-*")), "the staging folder was not removed"
    message = str(info.value)
    assert "\n" not in message
    return message


def set_line(n: int, text: str):
    """An edit replacing line ``n`` (1-based: line 1 is the header)."""
    return lambda lines: [*lines[:n - 1], text, *lines[n:]]


@needs_shared
def test_text_in_a_numeric_column_names_file_row_and_rule(raw, out):
    tamper(raw, LIFE, set_line(6, "abw,1964,3O.9\n"))
    refused(raw, out, r"sp_dyn_le00_in--by--geo--time\.csv, row 6: value must be a number, got '3O\.9'")


@needs_shared
def test_an_empty_raw_file_is_refused(raw, out):
    tamper(raw, LIFE, lambda lines: [])
    refused(raw, out, r"sp_dyn_le00_in--by--geo--time\.csv, row 1: the file is empty")


@needs_shared
def test_a_raw_file_that_is_not_utf8_is_refused(raw, out):
    path = raw / LIFE
    path.write_bytes(path.read_bytes().replace(b"abw,1964,", b"abw,1964,\xff", 1))
    rerecord(raw, LIFE)
    refused(raw, out, r"sp_dyn_le00_in--by--geo--time\.csv, row \d+: not UTF-8 text")


@needs_shared
def test_a_duplicated_raw_row_is_refused(raw, out):
    tamper(raw, LIFE, lambda lines: [*lines[:11], lines[10], *lines[11:]])
    refused(raw, out, r"sp_dyn_le00_in--by--geo--time\.csv, row 12: duplicate row for ABW 1969 "
                      r"\(already given in row 11\)")


@needs_shared
def test_a_mistyped_country_id_is_refused_not_dropped(raw, out):
    tamper(raw, LIFE, lambda lines: [line.replace("ken,", "kne,", 1) if line.startswith("ken,") else line
                                     for line in lines])
    refused(raw, out, r"sp_dyn_le00_in--by--geo--time\.csv, row \d+: unknown country id 'kne'")


@needs_shared
@pytest.mark.parametrize("year, rule", [("1969.0", "year must be a whole number"),
                                        ("19x9", "year must be a whole number")])
def test_a_year_that_is_not_a_whole_number_is_refused(raw, out, year, rule):
    tamper(raw, LIFE, set_line(3, f"abw,{year},64.6\n"))
    refused(raw, out, rf"row 3: {rule} from 1960 to 2100, got '{year}'")


@needs_shared
@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_a_value_that_is_not_finite_is_refused(raw, out, value):
    tamper(raw, LIFE, set_line(4, f"abw,1962,{value}\n"))
    refused(raw, out, r"row 4: value must be a finite number")


@needs_shared
def test_text_in_the_excess_mortality_table_is_refused(raw, out):
    local = "world-mortality/excess-mortality.csv"
    tamper(raw, local, lambda lines: [*lines[:2], lines[2].replace(",2756,", ",two thousand,"), *lines[3:]])
    refused(raw, out, r"excess-mortality\.csv, row 3: column 'COVID-19 deaths' must be an integer, "
                      r"got 'two thousand'")


@needs_shared
def test_programme_years_five_is_refused_after_everything_else_was_built(raw, out, tmp_path):
    """The curated table is checked last, after every WDI file was written to the staging folder: the
    failure still leaves data/ exactly as it was (no half-written folder)."""
    curated = tmp_path / "curated"
    curated.mkdir()
    with (DATA / MEDED_FILE).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[2][rows[0].index("programme_years")] = "five"
    with (curated / MEDED_FILE).open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    refused(raw, out, r"medical_education_systems\.csv, row 3: programme_years must be a number of years "
                      r"\(e\.g\. 6 or 5\.5\), got 'five'", curated=curated)


@needs_shared
def test_a_scribd_citation_is_refused(raw, out, tmp_path):
    curated = tmp_path / "curated"
    curated.mkdir()
    with (DATA / MEDED_FILE).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[3][rows[0].index("sources")] = "https://scribd.com/document/1/a-copy"
    with (curated / MEDED_FILE).open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    refused(raw, out, r"medical_education_systems\.csv, row 4: a Scribd upload is not a citable source",
            curated=curated)


@needs_shared
def test_a_package_that_fails_validation_is_not_swapped_in(raw, out, monkeypatch):
    """The staged folder is validated with the loader's checks before the swap: a schema the written
    values break (here a maximum of 1 year of life expectancy) stops the build with file, row and rule."""
    real = databuild.indicator_schema

    def strict(ind):
        schema = real(ind)
        if ind.name == "life_expectancy":
            schema["fields"][2]["constraints"]["maximum"] = 1
        return schema

    monkeypatch.setattr(databuild, "indicator_schema", strict)
    refused(raw, out, r"life_expectancy\.csv, row 2: column 'value' must be <= 1")


@needs_shared
def test_the_cli_prints_one_line_and_exits_non_zero(raw, out, monkeypatch):
    from iome import cli

    tamper(raw, LIFE, set_line(6, "abw,1964,3O.9\n"))
    before = sha256s(out)
    result = CliRunner().invoke(cli.main, ["data", "build", "--raw", str(raw), "--out", str(out)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    # one error line, last (above it at most the progress bar, stopped where the build stopped)
    assert len(errors) == 1 and lines[-1] == errors[0] and "row 6" in errors[0], result.output
    assert all("WDI indicators" in line for line in lines[:-1]), result.output
    assert "left unchanged" in errors[0] and "Traceback" not in result.output
    assert sha256s(out) == before
