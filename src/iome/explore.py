"""Explorers: pick an indicator and countries, see the comparison.

Two forms of the same explorer, one call:

- in Jupyter (a kernel runs): ipywidgets controls that redraw an Altair chart;
- on the published book (no kernel): one Vega-Lite chart whose controls are Vega-Lite parameters
  bound to ordinary HTML inputs, so they work in the reader's browser with nothing behind them.

The book build sets ``IOME_SITE=1`` (``iome.sphinxext``) and its kernels inherit it; ``site=True``
or ``False`` forces a form.
"""

from __future__ import annotations

import json
import os
import textwrap

from . import charts, data
from .i18n import _
from .settings import load_course

DEFAULT_NAMES = ["health_exp_per_capita_usd", "oop_share", "life_expectancy", "physicians_per_1000"]
SITE_ENV = "IOME_SITE"
# "which countries" choices of the site explorer: value -> label
GROUPS = {"focus": "Home country and peers", "Low": "All low-income countries",
          "Lower middle": "All lower-middle-income countries", "Upper middle": "All upper-middle-income countries",
          "High": "All high-income countries"}  # labels translated where shown (package catalogue)


def _title(name: str) -> str:
    """A dataset's title in the course language (the catalogue has every title)."""
    title = data.describe(name)["title"]
    return _(title)


def indicator_explorer(names: list[str] | None = None, countries: list[str] | None = None,
                       since: int | None = 2015, *, site: bool | None = None):
    """Show controls (indicator, countries) and a bar chart of the latest values."""
    names = list(names or DEFAULT_NAMES)
    if site is None:
        site = os.environ.get(SITE_ENV) == "1"
    if site:
        from IPython.display import display
        display(site_bundle(names, countries, since), raw=True)
        return None
    return _widget_explorer(names, countries, since)


def _widget_explorer(names, countries, since):
    import ipywidgets as widgets
    from IPython.display import display

    course = load_course()
    meta = data.countries().dropna(subset=["income_group"]).sort_values("name")
    options = [(f"{r.name} ({_(r.income_group)})", r.iso3) for r in meta.itertuples()]
    chosen = [c for c in (countries or course.focus) if c in set(meta["iso3"])]
    indicator = widgets.Dropdown(options=[(_title(n), n) for n in names], value=names[0],
                                 description=_("Indicator"), layout=widgets.Layout(width="95%"),
                                 style={"description_width": "initial"})
    picker = widgets.SelectMultiple(options=options, value=tuple(chosen), rows=8, description=_("Countries"),
                                    layout=widgets.Layout(width="95%"), style={"description_width": "initial"})
    note = widgets.HTML("<small>" + _("Hold Ctrl (Cmd on a Mac) to choose several countries.") + "</small>")
    display(widgets.VBox([indicator, picker, note]))
    handle = display(charts.indicator_chart(indicator.value, list(picker.value), since=since), display_id=True)

    def redraw(_change=None):
        if picker.value:
            handle.update(charts.indicator_chart(indicator.value, list(picker.value), since=since))

    indicator.observe(redraw, names="value")
    picker.observe(redraw, names="value")
    return None  # the controls and chart are already displayed


def _expr_list(values) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def site_spec(names: list[str], countries: list[str] | None = None, since: int | None = 2015) -> dict:
    """The explorer as one Vega-Lite spec with its controls bound to HTML inputs (no kernel needed).

    Controls: the indicator; which countries (home country and peers, or every country of one
    income group); one more country to add. Data: the latest value (since ``since``) of each
    indicator per country, one compact row per country.
    """
    course = load_course()
    focus = [c for c in (countries or course.focus)]
    meta = data.countries().dropna(subset=["income_group"]).set_index("iso3")
    rows = {}
    for iso3, m in meta.iterrows():  # compact rows: the page carries this data
        group = m["income_group"]
        rows[iso3] = {"iso3": iso3, "name": m["name"], "income_group": _(group)}
        rows[iso3].update({"focus": True} if iso3 in focus else {})
        rows[iso3].update({"home": True} if iso3 == course.home else {})
    titles, units, sources = [], [], []
    for i, name in enumerate(names):
        res = data.describe(name)
        titles.append(_title(name))
        unit = res.get("unit")
        units.append(_(unit) if unit else _title(name))
        sources.append(name)
        for r in data.latest(name, since=since).itertuples():
            if r.iso3 in rows:
                rows[r.iso3][f"v{i}"] = round(float(r.value), 3)
                rows[r.iso3][f"y{i}"] = int(r.year)
    values = [r for r in rows.values() if any(k[0] == "v" and k[1:].isdigit() for k in r)]
    options = sorted((r for r in values if not r.get("home")), key=lambda r: r["name"])
    wrapped = [textwrap.wrap(t, 38) for t in titles]
    idx = f"indexof({_expr_list(names)}, indicator)"
    in_view = ("(show == 'focus' ? datum.focus == true : datum.income_group == show) || datum.home == true || "
               "datum.iso3 == extra")
    latest = _("Latest year per country since {year}.").format(year=since) if since else \
        _("Latest year per country.")
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "description": _("Interactive bar chart: the latest value of one indicator for a set of countries, "
                         "coloured by World Bank income group, the home country outlined. Use the controls to "
                         "change the indicator ({n} to choose from), show every country of one income group, or "
                         "add one country.").format(n=len(titles)) + " " + latest,
        "title": {"text": {"expr": f"{json.dumps(wrapped, ensure_ascii=False)}[{idx}]"}},
        "usermeta": {"iome": {"explorer": True,
                              "source": charts.source_line(*sources) + " " + latest}},
        "config": charts._theme()["config"],
        "data": {"values": values},
        "params": [
            {"name": "indicator", "value": names[0],
             "bind": {"input": "select", "options": names, "labels": titles, "name": _("Indicator")}},
            {"name": "show", "value": "focus",  # a group's value is its name as the rows carry it
             "bind": {"input": "select", "options": [k if k == "focus" else _(k) for k in GROUPS],
                      "labels": [_(v) for v in GROUPS.values()], "name": _("Countries")}},
            {"name": "extra", "value": "",
             "bind": {"input": "select", "options": ["", *[r["iso3"] for r in options]],
                      "labels": [_("(none)"), *[f"{r['name']} ({r['income_group']})" for r in options]],
                      "name": _("Add a country")}},
        ],
        "transform": [
            {"calculate": f"datum['v' + {idx}]", "as": "value"},
            {"calculate": f"datum['y' + {idx}]", "as": "year"},
            {"calculate": f"{_expr_list(units)}[{idx}]", "as": "unit"},
            {"calculate": f"datum.name + (datum.home ? {json.dumps(' ' + _('(home)'), ensure_ascii=False)} : '')",
             "as": "label"},
            {"filter": f"isValid(datum.value) && ({in_view})"},
        ],
        "width": 520,
        "height": {"step": 18},
        "mark": {"type": "bar", "strokeWidth": 2},
        "encoding": {
            "y": {"field": "label", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "value", "type": "quantitative",
                  "axis": {"title": {"expr": f"{_expr_list([charts.wrap(u) for u in units])}[{idx}]"}}},
            "color": {"field": "income_group", "type": "nominal", "scale": {
                "domain": charts.income_order(), "range": list(charts.INCOME_COLORS.values())},
                "title": _("Income group (World Bank)")},
            "stroke": {"condition": {"test": "datum.home == true", "value": charts.HOME_COLOR}, "value": None},
            "tooltip": [{"field": "name", "type": "nominal", "title": _("Country")},
                        {"field": "income_group", "type": "nominal", "title": _("Income group")},
                        {"field": "value", "type": "quantitative", "title": _("Value"), "format": ",.1f"},
                        {"field": "unit", "type": "nominal", "title": _("Unit")},
                        {"field": "year", "type": "ordinal", "title": _("Year")}],
        },
    }


def site_bundle(names: list[str], countries: list[str] | None = None, since: int | None = 2015) -> dict:
    spec = site_spec(names, countries, since)
    return {charts.VEGALITE_MIME: spec, "text/plain": "<iome explorer: " + ", ".join(names) + ">"}


def measure_explorer(frame, measures: list[tuple[str, str]], *, groups=("Lower middle", "Upper middle"),
                     source: str = "", details: list[str] | None = None, site: bool | None = None):
    """Countries of chosen income groups ranked on one of several measures (columns of ``frame``).

    ``frame`` has ``name`` and ``income_group`` columns and one column per measure;
    ``measures`` is [(label, column), ...]; ``details`` are extra columns shown in tooltips.
    In Jupyter: a dropdown and a multiple choice of income groups (ipywidgets); on the site: the
    same controls as a select and one checkbox per income group, working in the browser.
    """
    details = list(details or [])
    if site is None:
        site = os.environ.get(SITE_ENV) == "1"
    if site:
        from IPython.display import display
        spec = measure_spec(frame, measures, groups=groups, source=source, details=details)
        display({charts.VEGALITE_MIME: spec, "text/plain": "<iome explorer>"}, raw=True)
        return None
    import altair as alt
    import ipywidgets as widgets
    from IPython.display import display

    labels = {column: label for label, column in measures}

    def chart(measure, chosen):
        rows = frame[frame["income_group"].isin(chosen)].dropna(subset=[measure])
        rows = charts.income_labels(rows[["name", "income_group", *details, measure]])
        return alt.Chart(rows, title=alt.Title(labels[measure], subtitle=[source] if source else []),
                         description=_("Bar chart of {title} for {n} countries").format(title=labels[measure],
                                                                                          n=len(rows)),
                         width=480, height=alt.Step(14)).mark_bar().encode(
            x=alt.X(f"{measure}:Q", title=labels[measure]),
            y=alt.Y("name:N", sort="-x", title=None, axis=alt.Axis(labelFontSize=11)),
            color=alt.Color("income_group:N", scale=charts.income_scale(), title=_("Income group (World Bank)")),
            tooltip=[alt.Tooltip("name:N", title=_("Country")), alt.Tooltip("income_group:N", title=_("Income group")),
                     *[alt.Tooltip(f"{d}:N", title=charts.human_field(d)) for d in details],
                     alt.Tooltip(f"{measure}:Q", title=labels[measure], format=",.1f")])

    measure = widgets.Dropdown(options=measures, value=measures[0][1], description=_("Measure"),
                               layout=widgets.Layout(width="95%"))
    chosen = widgets.SelectMultiple(options=[(_(g), g) for g in data.INCOME_ORDER], value=tuple(groups),
                                    description=_("Income groups"),
                                    rows=4, style={"description_width": "initial"})
    display(widgets.VBox([measure, chosen]))
    handle = display(chart(measure.value, chosen.value), display_id=True)

    def redraw(_change=None):
        handle.update(chart(measure.value, chosen.value))

    measure.observe(redraw, names="value")
    chosen.observe(redraw, names="value")
    return None


def measure_spec(frame, measures, *, groups, source, details) -> dict:
    """measure_explorer's browser-side form: a select for the measure, a checkbox per income group."""
    columns = [c for _, c in measures]
    keep = frame[["name", "income_group", *details, *columns]].dropna(subset=["income_group"])
    keep = charts.income_labels(keep.dropna(subset=columns, how="all"))
    values = []
    for row in keep.to_dict("records"):
        values.append({k: (round(float(v), 3) if k in columns else v) for k, v in row.items()
                       if v == v and v is not None})  # v == v drops NaN
    idx = f"indexof({_expr_list(columns)}, measure)"
    group_params = [f"g{i}" for i in range(len(data.INCOME_ORDER))]
    in_groups = " || ".join(f"(datum.income_group == {json.dumps(_(g), ensure_ascii=False)} && {p})"
                            for g, p in zip(data.INCOME_ORDER, group_params))
    labels = [label for label, _ in measures]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "description": _("Interactive bar chart ranking countries on one measure ({measures}), coloured by World "
                         "Bank income group. Use the controls to change the measure and to show or hide each "
                         "income group (shown first: {groups}).").format(
                             measures="; ".join(labels), groups=", ".join(_(g) for g in groups)),
        "title": {"text": {"expr": f"{_expr_list(labels)}[{idx}]"}},
        "usermeta": {"iome": {"explorer": True, "source": source}},
        "config": charts._theme()["config"],
        "data": {"values": values},
        "params": [
            {"name": "measure", "value": columns[0],
             "bind": {"input": "select", "options": columns, "labels": labels, "name": _("Measure")}},
            *[{"name": p, "value": g in groups, "bind": {"input": "checkbox",
                                                          "name": _("{group} income").format(group=_(g))}}
              for g, p in zip(data.INCOME_ORDER, group_params)],
        ],
        "transform": [
            {"calculate": f"datum[measure]", "as": "value"},
            {"filter": f"isValid(datum.value) && ({in_groups})"},
        ],
        "width": 480,
        "height": {"step": 16},
        "mark": "bar",
        "encoding": {
            "y": {"field": "name", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "value", "type": "quantitative", "axis": {"title": {"expr": f"{_expr_list([charts.wrap(x) for x in labels])}[{idx}]"}}},
            "color": {"field": "income_group", "type": "nominal", "title": _("Income group (World Bank)"),
                      "scale": {"domain": charts.income_order(), "range": list(charts.INCOME_COLORS.values())}},
            "tooltip": [{"field": "name", "type": "nominal", "title": _("Country")},
                        {"field": "income_group", "type": "nominal", "title": _("Income group")},
                        *[{"field": d, "type": "nominal", "title": charts.human_field(d)} for d in details],
                        {"field": "value", "type": "quantitative", "title": _("Value"), "format": ",.1f"}],
        },
    }
