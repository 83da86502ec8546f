"""Small helpers the exercise notebooks share, so every question degrades the same, documented way
when a country has no data (a data-sparse home country such as Somalia or South Sudan).

The no-data convention: a question about one country's value asks for ``NO_DATA`` (which is
``None``) when that country has no value in the period the question names. Visible and hidden tests
accept it exactly when the data have no value, so a correct notebook earns full marks for any home
country, and a student never sees "nan".
"""

from __future__ import annotations

import math

import pandas as pd

NO_DATA = None  # the answer to a question about a country without a value


def value_of(frame: pd.DataFrame, iso3: str, column: str = "value") -> float | None:
    """``frame``'s value for one country as a float, or NO_DATA when the row or the value is missing.

    ``frame`` has an ``iso3`` column (e.g. the result of ``data.latest``).
    """
    rows = frame.loc[frame["iso3"] == iso3, column].dropna()
    if rows.empty:
        return NO_DATA
    value = float(rows.iloc[0])
    return NO_DATA if math.isnan(value) else value


def is_no_data(answer) -> bool:
    """True for the no-data answer (``None``; a float NaN is not accepted as an answer)."""
    return answer is NO_DATA


def same(answer, expected, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    """Compare a numeric answer with the expected value, where either may be NO_DATA."""
    if expected is NO_DATA or answer is NO_DATA:
        return answer is expected
    return isinstance(answer, (int, float)) and math.isclose(float(answer), float(expected),
                                                             rel_tol=rel_tol, abs_tol=abs_tol)


def names(iso3s) -> list[str]:
    """Country names for ISO3 codes (for sentences and titles students read; codes stay in data)."""
    from . import data  # late import: data loads course settings
    table = data.countries().set_index("iso3")["name"]
    return [str(table.get(c, c)) for c in iso3s]
