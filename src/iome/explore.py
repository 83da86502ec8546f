"""ipywidgets explorers: pick countries and an indicator, see the comparison.

The chart is an ordinary cell output updated through a display handle, so the published book
(no kernel) still shows the default comparison as a live Altair chart, and Jupyter redraws it
whenever a student changes a control.
"""

from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display

from . import charts, data
from .settings import load_course


def indicator_explorer(names: list[str] | None = None, countries: list[str] | None = None,
                       since: int | None = 2015):
    """Show controls (indicator, countries) and a bar chart of the latest values."""
    course = load_course()
    names = names or ["health_exp_per_capita_usd", "oop_share", "life_expectancy", "physicians_per_1000"]
    meta = data.countries().dropna(subset=["income_group"]).sort_values("name")
    options = [(f"{r.name} ({r.income_group})", r.iso3) for r in meta.itertuples()]
    chosen = [c for c in (countries or course.focus) if c in set(meta["iso3"])]
    indicator = widgets.Dropdown(options=[(data.describe(n)["title"], n) for n in names], value=names[0],
                                 description="Indicator", layout=widgets.Layout(width="95%"),
                                 style={"description_width": "initial"})
    picker = widgets.SelectMultiple(options=options, value=tuple(chosen), rows=8, description="Countries",
                                    layout=widgets.Layout(width="95%"), style={"description_width": "initial"})
    note = widgets.HTML("<small>Hold Ctrl (Cmd on a Mac) to choose several countries. On the website the "
                        "controls need a running kernel: open this page in Jupyter to explore.</small>")
    display(widgets.VBox([indicator, picker, note]))
    handle = display(charts.indicator_chart(indicator.value, list(picker.value), since=since), display_id=True)

    def redraw(_change=None):
        if picker.value:
            handle.update(charts.indicator_chart(indicator.value, list(picker.value), since=since))

    indicator.observe(redraw, names="value")
    picker.observe(redraw, names="value")
    return None  # the controls and chart are already displayed
