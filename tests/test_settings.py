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


# ---- validated once, up front: one line naming course.yml and the field ------------------------

BAD = [
    ("home: XXX\npeers: [GBR, ETH]\n", "field 'home': XXX is not a country code"),
    ("home: ken\npeers: [GBR, ETH]\n", "field 'home' must be an ISO 3166-1 alpha-3 code"),
    ("home: KEN\npeers: [GBR, GBR]\n", "field 'peers[1]': GBR is listed twice"),
    ("home: KEN\npeers: [GBR, KEN]\n", "field 'peers[1]': KEN is listed twice"),
    ("home: KEN\npeers: []\n", "field 'peers' must be a non-empty list"),
    ("home: GBR\npeers: [DEU, USA]\n", "field 'peers' needs a low- or lower-middle-income country"),
    ("home: ETH\npeers: [KEN, NGA]\n", "field 'peers' needs a high-income country"),
    ("home: KEN\npeers: [GBR]\nlanguage: xx\n", "field 'language' must be one of en, es"),
    ("home: KEN\npeers: [GBR]\ncountry: KEN\n", "unknown setting 'country'"),
    ("home: KEN\npeers: [GBR\n", "not valid YAML at line"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_settings_fail_with_one_line_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "course.yml"
    path.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_course(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, message", BAD[:3] + BAD[-1:])
def test_every_iome_command_refuses_bad_settings_without_a_traceback(tmp_path, monkeypatch, text, message):
    from click.testing import CliRunner

    from iome.cli import main
    path = tmp_path / "course.yml"
    path.write_text(text)
    monkeypatch.setenv("IOME_COURSE_FILE", str(path))
    for args in (["check", "health-economics"], ["release", "health-economics"], ["book", "build"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code != 0
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_good_settings_and_a_digest_that_follows_every_field(tmp_path):
    base = "school: A\nhome: SOM\npeers: [NRU, KEN, ETH, GBR, DEU]\nlanguage: en\n"
    digests = set()
    for text in (base, base.replace("A", "B"), base.replace("SOM", "SSD"), base.replace("DEU", "USA"),
                 base.replace("language: en", "language: es")):
        path = tmp_path / f"c{len(digests)}.yml"
        path.write_text(text)
        digests.add(load_course(path).digest)
    assert len(digests) == 5


def test_settings_error_in_a_notebook_is_one_line():
    """Inside IPython a SettingsError prints as its one line (the kernel's traceback is that line)."""
    from IPython.core.interactiveshell import InteractiveShell

    from iome import settings
    shell = InteractiveShell.instance()
    try:
        settings.show_settings_errors_briefly.__globals__["get_ipython"] = lambda: shell
        settings.show_settings_errors_briefly()
        stb = shell.CustomTB(SettingsError, SettingsError("course.yml: field 'home' ..."), None)
        assert stb == ["SettingsError: course.yml: field 'home' ..."]
    finally:
        settings.show_settings_errors_briefly.__globals__.pop("get_ipython", None)
        InteractiveShell.clear_instance()
