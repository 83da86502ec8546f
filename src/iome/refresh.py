"""Refresh the WDI files in ``data/`` from the World Bank API (``iome data refresh``), for online users.

Uses the maintained ``wbgapi`` client (its paging, error handling and configurable endpoint) on the
API's v2 indicator endpoint, ``<endpoint>/en/country/all/indicator/<code>``. It produces files of
exactly the shape ``iome data build`` writes (``wdi/<name>.csv``: iso3, year, value; countries only,
impossible zeros dropped, ranges checked) and replaces each indicator's provenance with the API's:
source = World Bank API, retrieval date, the API's last-updated date, no commit.

Safety: everything is written to a temporary copy of ``data/`` first. Only when every requested
indicator downloaded and the whole package validates is the copy swapped in; a failed or partial
download leaves ``data/`` exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .catalog import BY_NAME, INDICATORS, Indicator
from .databuild import WDI_SOURCE, coverage, indicator_resource, tidy_rows, write_csv

DEFAULT_ENDPOINT = "https://api.worldbank.org/v2"
TIMEOUT_SECONDS = 60
PER_PAGE = 5000  # rows per request: an indicator (about 17,000 country-years) in four requests


class RefreshError(RuntimeError):
    """The refresh could not complete; data/ was left untouched."""


@contextmanager
def _client(endpoint: str):
    """wbgapi configured for one refresh (its settings are module globals: restore them after)."""
    import wbgapi

    saved = wbgapi.endpoint, dict(wbgapi.get_options), wbgapi.per_page
    wbgapi.endpoint = endpoint.rstrip("/")
    wbgapi.get_options = {**wbgapi.get_options, "timeout": TIMEOUT_SECONDS}
    wbgapi.per_page = PER_PAGE
    try:
        yield wbgapi
    finally:
        wbgapi.endpoint, wbgapi.get_options, wbgapi.per_page = saved


def _as_text(value) -> str:
    """The API's JSON number as the CSV text the build would write (integers without '.0')."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def download(wb, ind: Indicator) -> list[tuple[str, str, str]]:
    """All non-null (iso3 in lower case, year, value) observations of one indicator."""
    url = f"country/all/indicator/{ind.code}"
    rows = []
    for rec in wb.fetch(url):  # wbgapi pages through the result for us
        if rec.get("indicator", {}).get("id") != ind.code:
            raise RefreshError(f"{wb.endpoint}/{wb.lang}/{url}: a record is for indicator "
                               f"{rec.get('indicator', {}).get('id')!r}, not {ind.code}")
        if rec.get("value") is None:
            continue  # the API lists every country-year, with null where there is no observation
        iso3 = rec.get("countryiso3code") or ""
        if iso3:  # aggregates such as "World" or "High income" have codes too; tidy_rows drops them
            rows.append((iso3.lower(), str(rec["date"]), _as_text(rec["value"])))
    return rows


def _api_meta(wb, ind: Indicator) -> dict:
    """The API's header for the indicator (page 1, one record): last-updated date and total.

    wbgapi's fetch() reads but does not return the header, so ask for it with the client's own
    checked request function (status, JSON and API error messages handled as in fetch()).
    """
    url = f"{wb.endpoint}/{wb.lang}/country/all/indicator/{ind.code}?per_page=1&page=1&format=json"
    hdr, _ = wb._queryAPI(url)
    return {"lastupdated": hdr.get("lastupdated"), "total": hdr.get("total")}


def refresh(data_dir: Path, indicators: list[Indicator] | None = None, endpoint: str = DEFAULT_ENDPOINT,
            progress=None, today: dt.date | None = None) -> list[str]:
    """Re-download ``indicators`` (default: all WDI indicators) into ``data_dir``; return report notes.

    Raises RefreshError naming the indicator and the cause; ``data_dir`` is then unchanged.
    """
    data_dir = Path(data_dir).resolve()
    indicators = list(indicators or INDICATORS)
    today = today or dt.date.today()
    package_path = data_dir / "datapackage.json"
    if not package_path.is_file():
        raise RefreshError(f"{package_path}: not found. Run `iome data build` first; refresh updates an "
                           "existing data/ folder.")
    package = json.loads(package_path.read_text(encoding="utf-8"))
    known = {line.split(",", 1)[0] for line in (data_dir / "countries.csv").read_text(encoding="utf-8")
             .splitlines()[1:]}

    work = Path(tempfile.mkdtemp(prefix=".data-refresh-", dir=data_dir.parent))
    try:
        staged = work / "data"
        shutil.copytree(data_dir, staged)
        report: list[str] = []
        new_resources: dict[str, dict] = {}
        with _client(endpoint) as wb:
            steps = indicators if progress is None else progress(indicators, description="World Bank API")
            for ind in steps:
                try:
                    meta = _api_meta(wb, ind)
                    raw = download(wb, ind)
                except RefreshError:
                    raise
                except Exception as exc:  # network, HTTP status, malformed JSON: all mean "incomplete"
                    raise RefreshError(f"{ind.code} ({ind.name}): download failed: {exc}. data/ was left "
                                       "untouched; check your connection and run `iome data refresh` "
                                       "again.") from None
                if not raw:
                    raise RefreshError(f"{ind.code} ({ind.name}): the API returned no observations. data/ "
                                       "was left untouched.")
                # aggregates ("WLD", "HIC"...) and economies outside the country taxonomy (Kosovo, the
                # Channel Islands) are dropped, as `iome data build` does; name them once
                outside = sorted({r[0].upper() for r in raw} - known)
                raw = [r for r in raw if r[0].upper() in known]
                if outside:
                    report.append(f"{ind.name}: {len(outside)} aggregate or non-taxonomy codes dropped "
                                  f"({', '.join(outside[:6])}{', ...' if len(outside) > 6 else ''})")
                try:
                    rows = tidy_rows(ind, raw, known, report)
                except Exception as exc:
                    raise RefreshError(f"{ind.code} ({ind.name}): {exc}. data/ was left untouched.") from None
                write_csv(staged / "wdi" / f"{ind.name}.csv", ["iso3", "year", "value"], rows)
                api_url = f"{endpoint.rstrip('/')}/en/country/all/indicator/{ind.code}"
                res = indicator_resource(ind, rows, {
                    "source_api": api_url, "source_last_updated": meta["lastupdated"],
                    "retrieved": today.isoformat()})
                res["sources"] = [dict(WDI_SOURCE, title="World Bank API (World Development Indicators)",
                                       path=api_url)]
                res["description"] += " Refreshed from the World Bank API with `iome data refresh`."
                new_resources[ind.name] = res
                report.append(f"{ind.name}: {coverage(rows)['rows']} rows, latest year "
                              f"{coverage(rows)['year_max']}")

        package["resources"] = [new_resources.get(r["name"], r) for r in package["resources"]]
        (staged / "datapackage.json").write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
        _validate(staged)
        _swap(staged, data_dir, work)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _validate(folder: Path) -> None:
    """Every resource of the staged package loads against its schema (the loader's own checks)."""
    from .data import DataError, load, resource_names

    for name in resource_names(folder):
        try:
            load(name, folder)
        except DataError as exc:
            raise RefreshError(f"the refreshed data did not validate, so data/ was left untouched: {exc}") \
                from None


def _swap(staged: Path, data_dir: Path, work: Path) -> None:
    """Put the staged folder in place of data/ with two renames; undo the first if the second fails."""
    old = work / "previous"
    os.replace(data_dir, old)
    try:
        os.replace(staged, data_dir)
    except OSError:
        os.replace(old, data_dir)
        raise


def indicators_named(names_or_codes: list[str]) -> list[Indicator]:
    """Indicators by resource name or WDI code (for ``--indicator``)."""
    by_code = {i.code: i for i in INDICATORS}
    out = []
    for key in names_or_codes:
        ind = BY_NAME.get(key) or by_code.get(key.upper())
        if ind is None:
            raise RefreshError(f"unknown indicator {key!r}: use a resource name (e.g. life_expectancy) or a "
                               "WDI code (e.g. SP.DYN.LE00.IN) listed in data/datapackage.json")
        out.append(ind)
    return out
