"""Refresh data/ from the World Bank API (``iome data refresh``), for online users.

Uses the maintained ``wbgapi`` client through its public interface: ``wbgapi.fetch`` pages through the
API's v2 endpoints (``<endpoint>/en/country/all/indicator/<code>`` for an indicator,
``<endpoint>/en/country/all`` for the economies and their income groups). It produces files of exactly the
shape ``iome data build`` writes (``wdi/<name>.csv``: iso3, year, value; countries only, the same
plausibility rules, ranges checked) and replaces each indicator's provenance with the API's: source =
World Bank API, retrieval date, the API's last-updated date, no commit. The income groups in
``countries.csv`` are replaced with the World Bank's current classification.

Checks: the number of records received must equal the ``total`` the API announces (a page that came
back short is a failed download, not a shorter file). A 5xx answer or a dropped connection is retried
with exponential backoff (RETRIES attempts) before the refresh gives up.

Safety: everything is written to a staging copy of ``data/`` first. Only when every requested download
completed and the whole package validates (the loader's checks and frictionless, as after
``iome data build``) is the copy swapped in; otherwise ``data/`` is left exactly as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from contextlib import contextmanager
from pathlib import Path

from .catalog import BY_NAME, INDICATORS, Indicator
from .databuild import (WDI_SOURCE, BuildError, closing_steps, coverage, indicator_resource, publish, staging,
                        tidy_rows, write_csv)

DEFAULT_ENDPOINT = "https://api.worldbank.org/v2"
TIMEOUT_SECONDS = 60
PER_PAGE = 5000  # rows per request: an indicator (about 17,000 country-years) in four requests
RETRIES = 4  # attempts per download when the API answers 5xx or the connection drops
BACKOFF_SECONDS = 2.0  # wait before the 2nd attempt; doubled before each further one
INCOME_LEVELS = {"LIC": "Low", "LMC": "Lower middle", "UMC": "Upper middle", "HIC": "High"}


class RefreshError(RuntimeError):
    """The refresh could not complete; data/ was left untouched."""


class Incomplete(RuntimeError):
    """The API sent fewer or more records than the total it announced."""


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
    """The API's JSON number as the CSV text the build would write (integers without '.0'; floats at full
    precision: repr() gives the shortest text that reads back as the same double)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _retryable(exc: Exception) -> bool:
    import requests
    import wbgapi

    if isinstance(exc, wbgapi.APIError) and not isinstance(exc, wbgapi.APIResponseError):
        return exc.code is not None and 500 <= int(exc.code) < 600
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def with_retries(what: str, fn, notes: list[str] | None = None):
    """``fn()``, tried again after a 5xx answer or a dropped connection, waiting BACKOFF_SECONDS, then twice
    that, and so on; after RETRIES attempts the last error is raised."""
    for attempt in range(1, RETRIES + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == RETRIES or not _retryable(exc):
                raise
            wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
            if notes is not None:
                notes.append(f"{what}: {exc}; retried after {wait:g} s")
            time.sleep(wait)


def fetch_all(wb, url: str) -> tuple[list[dict], dict]:
    """Every record of a paged v2 endpoint, and the API's header (total, lastupdated...).

    wbgapi.fetch() pages through the result; the header of page 1 (which fetch reads but does not
    return) is read with wbgapi.get_options through requests, to check the total.
    """
    import requests

    records = list(wb.fetch(url))
    response = requests.get(f"{wb.endpoint}/{wb.lang}/{url}", params={"format": "json", "per_page": 1,
                                                                       "page": 1}, **wb.get_options)
    if response.status_code != 200:
        raise wb.APIError(response.url, response.reason, response.status_code)
    header = response.json()[0]
    total = int(header.get("total", -1))
    if len(records) != total:
        raise Incomplete(f"received {len(records)} records but the API announced {total}")
    return records, header


def download(wb, ind: Indicator, notes: list[str] | None = None) -> tuple[list[tuple[str, str, str, str]], dict]:
    """All non-null (record number, iso3, year, value) observations of one indicator, and the API header."""
    url = f"country/all/indicator/{ind.code}"
    records, header = with_retries(ind.code, lambda: fetch_all(wb, url), notes)
    rows = []
    for number, rec in enumerate(records, start=1):
        if rec.get("indicator", {}).get("id") != ind.code:
            raise RefreshError(f"{wb.endpoint}/{wb.lang}/{url}: record {number} is for indicator "
                               f"{rec.get('indicator', {}).get('id')!r}, not {ind.code}")
        if rec.get("value") is None:
            continue  # the API lists every country-year, with null where there is no observation
        iso3 = rec.get("countryiso3code") or ""
        if iso3:  # aggregates such as "World" or "High income" have codes too; dropped below
            rows.append((f"record {number}", iso3, str(rec["date"]), _as_text(rec["value"])))
    return rows, header


def income_groups(wb, notes: list[str] | None = None) -> dict[str, str]:
    """{ISO3: income group} for every economy the World Bank classifies (aggregates left out)."""
    records, _ = with_retries("income groups", lambda: fetch_all(wb, "country/all"), notes)
    groups = {}
    for rec in records:
        if rec.get("region", {}).get("id") == "NA":  # an aggregate ("World", "High income"...)
            continue
        level = (rec.get("incomeLevel") or {}).get("id", "")
        groups[rec["id"]] = INCOME_LEVELS.get(level, "")  # "INX": not classified
    if not groups:
        raise Incomplete("the API listed no economies")
    return groups


def _update_income_groups(staged: Path, groups: dict[str, str], package: dict, endpoint: str,
                          today: dt.date) -> list[str]:
    path = staged / "countries.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    changed = []
    for row in rows:
        if row["iso3"] in groups and groups[row["iso3"]] != row["income_group"]:
            changed.append(f"{row['iso3']} {row['income_group'] or '(none)'} -> {groups[row['iso3']] or '(none)'}")
            row["income_group"] = groups[row["iso3"]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    api_url = f"{endpoint.rstrip('/')}/en/country/all"
    res = next(r for r in package["resources"] if r["name"] == "countries")
    vintage = (f"World Bank API economy metadata ({api_url}), retrieved {today.isoformat()}: the "
               "classification in force on that date (the World Bank revises it every 1 July).")
    res["income_group_vintage"] = f"World Bank API, retrieved {today.isoformat()}"
    res["income_group_source"] = vintage
    res["income_group_evidence"] = [{"title": "World Bank API, economies (country/all)",
                                     "organisation": "World Bank", "path": api_url}]
    res["description"] = res["description"].split(" Income groups: ")[0] + \
        f" Income groups: {vintage} Names and regions: hdx-python-country."
    return changed


def refresh(data_dir: Path, indicators: list[Indicator] | None = None, endpoint: str = DEFAULT_ENDPOINT,
            progress=None, today: dt.date | None = None, income: bool = True) -> list[str]:
    """Re-download ``indicators`` (default: all WDI indicators) and, with ``income``, the World Bank
    income groups into ``data_dir``; return report notes.

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

    report: list[str] = []
    with staging(data_dir, copy_all=True) as staged, _client(endpoint) as wb:
        if income:
            try:
                groups = income_groups(wb, report)
            except Exception as exc:
                raise RefreshError(f"income groups ({endpoint.rstrip('/')}/en/country/all): download failed: "
                                   f"{exc}. data/ was left untouched.") from None
            changed = _update_income_groups(staged, groups, package, endpoint, today)
            report.append(f"income groups: {len(changed)} changed"
                          + (f" ({'; '.join(changed[:8])}{'; ...' if len(changed) > 8 else ''})" if changed else ""))
        new_resources: dict[str, dict] = {}
        steps = indicators if progress is None else progress(indicators, description="World Bank API")
        with closing_steps(steps):
            for ind in steps:
                try:
                    raw, header = download(wb, ind, report)
                except RefreshError:
                    raise
                except Exception as exc:  # network, HTTP status, malformed JSON, short pages: all "incomplete"
                    raise RefreshError(f"{ind.code} ({ind.name}): download failed: {exc}. data/ was left "
                                       "untouched; check your connection and run `iome data refresh` "
                                       "again.") from None
                if not raw:
                    raise RefreshError(f"{ind.code} ({ind.name}): the API returned no observations. data/ "
                                       "was left untouched.")
                # aggregates ("WLD", "HIC"...) and economies outside the country taxonomy (Kosovo, the
                # Channel Islands) are dropped, as `iome data build` does; name them once
                outside = sorted({r[1].upper() for r in raw} - known)
                raw = [r for r in raw if r[1].upper() in known]
                if outside:
                    report.append(f"{ind.name}: {len(outside)} aggregate or non-taxonomy codes dropped "
                                  f"({', '.join(outside[:6])}{', ...' if len(outside) > 6 else ''})")
                api_url = f"{endpoint.rstrip('/')}/en/country/all/indicator/{ind.code}"
                try:
                    rows, excluded = tidy_rows(ind, raw, known, api_url)
                except BuildError as exc:
                    raise RefreshError(f"{ind.code} ({ind.name}): {exc}. data/ was left untouched.") from None
                write_csv(staged / "wdi" / f"{ind.name}.csv", ["iso3", "year", "value"], rows)
                res = indicator_resource(ind, rows, {
                    "source_api": api_url, "source_last_updated": header.get("lastupdated"),
                    "retrieved": today.isoformat()}, excluded)
                res["sources"] = [dict(WDI_SOURCE, title="World Bank API (World Development Indicators)",
                                       path=api_url)]
                res["description"] += " Refreshed from the World Bank API with `iome data refresh`."
                new_resources[ind.name] = res
                report.append(f"{ind.name}: {coverage(rows)['rows']} rows, latest year {coverage(rows)['year_max']}"
                              + (f", {len(excluded)} implausible value(s) kept out" if excluded else ""))

        package["resources"] = [new_resources.get(r["name"], r) for r in package["resources"]]
        (staged / "datapackage.json").write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
        try:
            publish(staged, data_dir, ["countries", *new_resources])
        except BuildError as exc:
            raise RefreshError(f"the refreshed data did not validate, so data/ was left untouched: {exc}") \
                from None
    return report


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
