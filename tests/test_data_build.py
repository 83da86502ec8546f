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
    out = tmp_path / "data"
    notes = build(SHARED, out, curated=DATA)
    built = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert built == committed_files()
    different = [str(p) for p in built if (out / p).read_bytes() != (DATA / p).read_bytes()]
    assert not different, f"rebuilt files differ from the committed ones: {different}"
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
