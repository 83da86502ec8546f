"""`iome data refresh` against a local HTTP server on 127.0.0.1 serving recorded World Bank API responses.

Never the internet: the server answers only from tests/fixtures/worldbank/. Every test refreshes a
temporary copy of data/, and the failure tests check that the copy is left byte-for-byte untouched.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.server
import json
import shutil
import threading
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner

from iome import data
from iome.catalog import BY_NAME
from iome.refresh import RefreshError, indicators_named, refresh

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
FIXTURES = ROOT / "tests" / "fixtures" / "worldbank"
RECORDED = ["population", "oop_share", "life_expectancy"]  # the indicators with recorded responses


class WorldBankStub(http.server.BaseHTTPRequestHandler):
    """GET /v2/en/country/all/indicator/<code>?page=<n>&format=json -> <code>.page<n>.json;
    GET /v2/en/country/all?page=<n>&format=json -> country.all.page<n>.json (economies, income groups)."""

    fixtures: Path = FIXTURES   # folder of recorded responses
    fail: dict[str, int] = {}   # code (or "country.all") -> HTTP status to answer with instead
    flaky: dict[str, int] = {}  # code -> how many requests still fail with 503 before the answer is given
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        url = urllib.parse.urlsplit(self.path)
        self.requests.append(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        if parts == ["v2", "en", "country", "all"]:
            code = "country.all"
        elif parts[:5] == ["v2", "en", "country", "all", "indicator"] and len(parts) == 6:
            code = parts[5]
        else:
            return self.answer(404, b"not a recorded endpoint")
        if code in self.fail:
            return self.answer(self.fail[code], b"<html>Service Unavailable</html>", "text/html")
        if self.flaky.get(code):
            self.flaky[code] -= 1
            return self.answer(503, b"<html>Service Unavailable</html>", "text/html")
        page = self.fixtures / f"{code}.page{query.get('page', ['1'])[0]}.json"
        if not page.is_file():
            return self.answer(404, b"no recorded response")
        self.answer(200, page.read_bytes())

    def answer(self, status: int, body: bytes, kind: str = "application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture()
def api(monkeypatch):
    """Base URL of the stub API on 127.0.0.1 (a free port), shut down after the test."""
    from iome import refresh as refresh_module

    monkeypatch.setattr(refresh_module, "BACKOFF_SECONDS", 0.01)  # retries without the real waits
    WorldBankStub.fixtures, WorldBankStub.fail, WorldBankStub.requests = FIXTURES, {}, []
    WorldBankStub.flaky = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WorldBankStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def copy(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_refresh_rewrites_indicators_in_the_same_shape_with_api_provenance(api, copy):
    before = snapshot(copy)
    notes = refresh(copy, indicators_named(RECORDED), endpoint=api)

    # every page was requested, including page 2 and 3 of population (the client's paging)
    assert any("SP.POP.TOTL" in r and "page=3" in r for r in WorldBankStub.requests)
    pkg = json.loads((copy / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["name"]: r for r in pkg["resources"]}
    committed = {r["name"]: r for r in json.loads((DATA / "datapackage.json").read_text())["resources"]}
    for name in RECORDED:
        rows = read_rows(copy / "wdi" / f"{name}.csv")
        assert rows[0] == ["iso3", "year", "value"]
        assert {r[0] for r in rows[1:]} == {"DEU", "KEN", "ZAF"}  # WLD, XKX and CHI dropped
        # the recorded values are the committed WDI figures: the refresh writes them identically
        committed_rows = {tuple(r) for r in read_rows(DATA / "wdi" / f"{name}.csv")[1:]}
        assert set(map(tuple, rows[1:])) <= committed_rows
        res = resources[name]
        assert res["schema"] == committed[name]["schema"]
        assert res["sources"][0]["path"] == f"{api}/en/country/all/indicator/{BY_NAME[name].code}"
        assert res["source_api"].startswith("http://127.0.0.1:")
        assert res["source_last_updated"] == "2025-07-01"
        assert "source_commit" not in res and "source_repo" not in res
        assert res["coverage"] == {"countries": 3, "rows": 6, "year_min": 2021, "year_max": 2022}
        assert data.load(name, copy)["value"].notna().all()
    # the other resources are untouched, byte for byte (countries.csv gets the API's income groups)
    after = snapshot(copy)
    untouched = [k for k in before if k not in ("datapackage.json", "countries.csv")
                 and not any(k == f"wdi/{n}.csv" for n in RECORDED)]
    assert untouched and all(before[k] == after[k] for k in untouched)
    assert [r["name"] for r in pkg["resources"]] == list(committed)
    assert any("aggregate or non-taxonomy codes dropped (CHI, XKX)" in n for n in notes)


def test_a_failed_download_leaves_data_untouched(api, copy):
    """The third indicator fails after two succeeded: nothing of the partial refresh is kept."""
    WorldBankStub.fail = {"SP.DYN.LE00.IN": 503}
    before = snapshot(copy)
    with pytest.raises(RefreshError, match=r"SP\.DYN\.LE00\.IN \(life_expectancy\): download failed.*untouched"):
        refresh(copy, indicators_named(RECORDED), endpoint=api)
    assert snapshot(copy) == before
    assert not list(copy.parent.glob(".data-refresh-*")), "the staging folder was not cleaned up"


def test_a_missing_page_leaves_data_untouched(api, copy, tmp_path):
    """A download that stops half-way (page 2 of 3 missing) is a failure, not a shorter file."""
    partial = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, partial)
    (partial / "SP.POP.TOTL.page2.json").unlink()
    WorldBankStub.fixtures = partial
    before = snapshot(copy)
    with pytest.raises(RefreshError, match=r"SP\.POP\.TOTL \(population\): download failed"):
        refresh(copy, indicators_named(["population"]), endpoint=api)
    assert snapshot(copy) == before


def test_an_indicator_the_api_does_not_have_leaves_data_untouched(api, copy):
    before = snapshot(copy)
    with pytest.raises(RefreshError, match=r"SH\.MED\.PHYS\.ZS"):
        refresh(copy, indicators_named(["population", "physicians_per_1000"]), endpoint=api)
    assert snapshot(copy) == before


def test_values_that_fail_validation_leave_data_untouched(api, copy, tmp_path):
    """An out-of-range share from the API is refused before anything is swapped in."""
    broken = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, broken)
    page = broken / "SH.XPD.OOPC.CH.ZS.page1.json"
    header, rows = json.loads(page.read_text(encoding="utf-8"))
    rows[0]["value"] = 671.139
    page.write_text(json.dumps([header, rows]), encoding="utf-8")
    WorldBankStub.fixtures = broken
    before = snapshot(copy)
    with pytest.raises(RefreshError, match=r"SH\.XPD\.OOPC\.CH\.ZS.*outside 0\.\.100"):
        refresh(copy, indicators_named(["oop_share"]), endpoint=api)
    assert snapshot(copy) == before


def test_unknown_indicator_names_are_refused():
    with pytest.raises(RefreshError, match="unknown indicator 'doctors'"):
        indicators_named(["doctors"])
    assert [i.name for i in indicators_named(["SP.POP.TOTL", "oop_share"])] == ["population", "oop_share"]


def test_cli_refresh_reports_failure_without_touching_data(api, copy, monkeypatch):
    """`iome data refresh` on a copy: a clear one-line error and a non-zero exit, data untouched."""
    from iome import cli

    monkeypatch.setattr(cli, "repo_root", lambda: copy.parent)
    WorldBankStub.fail = {"SP.POP.TOTL": 500}
    before = snapshot(copy)
    result = CliRunner().invoke(cli.main, ["data", "refresh", "--indicator", "population", "--endpoint", api])
    assert result.exit_code != 0
    assert "population" in result.output and "untouched" in result.output
    assert snapshot(copy) == before
    WorldBankStub.fail = {}
    cache = copy.parent / "_build" / ".jupyter_cache"  # the book's execution cache keys on code, not data
    cache.mkdir(parents=True)
    result = CliRunner().invoke(cli.main, ["data", "refresh", "--indicator", "oop_share", "--endpoint", api])
    assert result.exit_code == 0, result.output
    assert len(read_rows(copy / "wdi" / "oop_share.csv")) == 7
    assert not cache.exists() and "execution cache was cleared" in result.output


# --- income groups, totals, retries, full precision ---------------------------------------------

def test_refresh_replaces_income_groups_with_the_apis(api, copy):
    """country/all (a recorded response: an older classification than the shipped FY24 one) sets the groups
    of the economies it lists; aggregates and economies without a country row are skipped."""
    before = data.countries(copy).set_index("iso3")["income_group"]
    notes = refresh(copy, indicators_named(["oop_share"]), endpoint=api, today=dt.date(2026, 7, 2))
    after = data.countries(copy).set_index("iso3")["income_group"]
    assert (before["ARM"], after["ARM"]) == ("Upper middle", "Lower middle")
    assert (before["BEN"], after["BEN"]) == ("Lower middle", "Low")
    assert (before["ASM"], after["ASM"]) == ("High", "Upper middle")
    unchanged = [c for c in before.index if c not in ("ARM", "BEN", "ASM")]
    assert before[unchanged].fillna("").equals(after[unchanged].fillna(""))
    res = data.describe("countries", copy)
    assert res["income_group_vintage"] == "World Bank API, retrieved 2026-07-02"
    assert res["income_group_evidence"][0]["path"] == f"{api}/en/country/all"
    assert "World Bank API" in res["description"] and "FY24" not in res["description"]
    assert any(n.startswith("income groups: 3 changed") and "ARM Upper middle -> Lower middle" in n for n in notes)
    assert any(r.startswith("/v2/en/country/all?") for r in WorldBankStub.requests)


def test_no_income_option_keeps_the_shipped_groups(api, copy):
    before = (copy / "countries.csv").read_bytes()
    refresh(copy, indicators_named(["oop_share"]), endpoint=api, income=False)
    assert (copy / "countries.csv").read_bytes() == before
    assert not any("/country/all?" in r for r in WorldBankStub.requests)


def test_fewer_records_than_the_api_announced_is_a_failure(api, copy, tmp_path):
    """A response whose pages hold fewer records than its header's total never becomes a shorter file."""
    short = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, short)
    page = short / "SH.XPD.OOPC.CH.ZS.page1.json"
    header, rows = json.loads(page.read_text(encoding="utf-8"))
    page.write_text(json.dumps([header, rows[:-3]]), encoding="utf-8")  # total still says 8
    WorldBankStub.fixtures = short
    before = snapshot(copy)
    with pytest.raises(RefreshError, match=r"SH\.XPD\.OOPC\.CH\.ZS \(oop_share\): download failed: received 5 "
                                           r"records but the API announced 8.*untouched"):
        refresh(copy, indicators_named(["oop_share"]), endpoint=api)
    assert snapshot(copy) == before


def test_a_passing_5xx_is_retried_with_backoff(api, copy):
    WorldBankStub.flaky = {"SH.XPD.OOPC.CH.ZS": 2, "country.all": 1}
    notes = refresh(copy, indicators_named(["oop_share"]), endpoint=api)
    retried = [n for n in notes if "retried after" in n]
    assert len(retried) == 3 and any("503" in n for n in retried)
    assert len(read_rows(copy / "wdi" / "oop_share.csv")) == 7


def test_a_lasting_5xx_gives_up_after_the_retries(api, copy):
    from iome.refresh import RETRIES

    WorldBankStub.fail = {"SH.XPD.OOPC.CH.ZS": 502}
    before = snapshot(copy)
    with pytest.raises(RefreshError, match=r"oop_share\): download failed: APIError: \[502\]"):
        refresh(copy, indicators_named(["oop_share"]), endpoint=api, income=False)
    assert sum("SH.XPD.OOPC.CH.ZS" in r for r in WorldBankStub.requests) == RETRIES
    assert snapshot(copy) == before


def test_a_4xx_is_not_retried(api, copy):
    WorldBankStub.fail = {"SH.XPD.OOPC.CH.ZS": 404}
    with pytest.raises(RefreshError, match=r"\[404\]"):
        refresh(copy, indicators_named(["oop_share"]), endpoint=api, income=False)
    assert sum("SH.XPD.OOPC.CH.ZS" in r for r in WorldBankStub.requests) == 1


def test_full_precision_values_are_written_exactly(api, copy, tmp_path):
    """The API's doubles (e.g. 80.6080487804878) are written as the shortest text that reads back as the
    same double, never rounded."""
    precise = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, precise)
    page = precise / "SP.DYN.LE00.IN.page1.json"
    text = page.read_text(encoding="utf-8").replace("80.60805", "80.6080487804878").replace("65.454",
                                                                                             "65.4540000000001")
    page.write_text(text, encoding="utf-8")
    WorldBankStub.fixtures = precise
    refresh(copy, indicators_named(["life_expectancy"]), endpoint=api, income=False)
    rows = {(r[0], r[1]): r[2] for r in read_rows(copy / "wdi" / "life_expectancy.csv")[1:]}
    assert rows[("DEU", "2022")] == "80.6080487804878" and rows[("ZAF", "2022")] == "65.4540000000001"
    frame = data.load("life_expectancy", copy).set_index(["iso3", "year"])["value"]
    assert frame[("DEU", 2022)] == 80.6080487804878


def test_implausible_api_values_are_kept_out_and_recorded(api, copy, tmp_path):
    """The build's plausibility rules apply to the API too: a stored 0 for a mortality-like quantity is
    kept out of the file and listed in datapackage.json."""
    zero = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, zero)
    page = zero / "SP.DYN.LE00.IN.page1.json"
    header, rows = json.loads(page.read_text(encoding="utf-8"))
    rows[1]["value"] = 0  # ZAF 2021
    page.write_text(json.dumps([header, rows]), encoding="utf-8")
    WorldBankStub.fixtures = zero
    refresh(copy, indicators_named(["life_expectancy"]), endpoint=api, income=False)
    assert ("ZAF", "2021") not in {(r[0], r[1]) for r in read_rows(copy / "wdi" / "life_expectancy.csv")}
    flagged = data.excluded("life_expectancy", copy)
    assert flagged[["iso3", "year", "value"]].values.tolist() == [["ZAF", 2021, "0"]]
    assert "cannot be zero" in flagged["rule"].item()
