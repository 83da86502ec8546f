"""course.yml: clear errors, and the home country drives what the charts highlight."""

from __future__ import annotations

import pytest

from conftest import course_file
from iome import charts, data
from iome.settings import SettingsError, load_course


def test_bad_home_country_names_file_and_field(tmp_path):
    path = tmp_path / "course.yml"
    path.write_text("home: Kenya\n")
    with pytest.raises(SettingsError, match=r"course.yml: field 'home' must be an ISO 3166-1 alpha-3 code"):
        load_course(path)


def test_unknown_setting_is_rejected(tmp_path):
    path = tmp_path / "course.yml"
    path.write_text("home: KEN\nhome_country: KEN\n")
    with pytest.raises(SettingsError, match="unknown setting"):
        load_course(path)


@pytest.mark.parametrize("home, peers", [("USA", ["GBR", "NGA", "ETH"]), ("KEN", ["UGA", "GBR", "USA"])])
def test_charts_highlight_the_home_country(tmp_path, monkeypatch, home, peers):
    monkeypatch.setenv("IOME_COURSE_FILE", str(course_file(tmp_path, home, peers)))
    assert load_course().home == home and load_course().focus[0] == home
    spec = charts.indicator_chart("oop_share", since=2015).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert {r["iso3"] for r in rows} == {home, *peers}
    assert [r["iso3"] for r in rows if r["role"] == "Home country"] == [home]
    frame = data.latest("life_expectancy", since=2015)
    layered = charts.by_income(frame, title="t", unit="years", source="s",
                               description=charts.income_summary(frame, "years")).to_dict()
    assert layered["description"].count("(home country)") == 1 and home in [
        r["iso3"] for r in next(iter(layered["datasets"].values())) if r["role"] == "Home country"]
