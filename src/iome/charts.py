"""Altair charts with the course's accessible defaults.

Every chart: a title, axis titles with units, a source line, a colour-blind-safe palette
(Okabe & Ito) that is never the only cue, and a text ``description`` that the book shows under
the chart and screen readers announce. The home country from course.yml is always highlighted.
"""

from __future__ import annotations

import json
import re
import textwrap

import altair as alt
import pandas as pd

from . import data
from .i18n import _, country_names
from .settings import load_course

# Okabe & Ito (2008) colour-blind-safe palette, one colour per World Bank income group.
INCOME_COLORS = {"Low": "#D55E00", "Lower middle": "#E69F00", "Upper middle": "#56B4E9", "High": "#0072B2"}
HOME_COLOR = "#000000"
FONT = "Arial, Helvetica, sans-serif"
# Altair 6 calls its type "application/vnd.vegalite.v6.json", which nbformat only accepts as a string;
# the "+json" form keeps the spec a JSON object in the notebook.
VEGALITE_MIME = "application/vnd.vegalite.v6+json"


def _theme() -> alt.theme.ThemeConfig:
    return {"config": {
        "font": FONT,
        "title": {"fontSize": 15, "anchor": "start", "subtitleColor": "#444", "subtitleFontSize": 11},
        "axis": {"labelFontSize": 12, "titleFontSize": 12},
        "legend": {"labelFontSize": 12, "titleFontSize": 12},
        "view": {"stroke": None},
    }}


def _income_groups_shown(spec: dict) -> dict:
    """Income groups as a reader of the course language sees them: a chart made from the data's own
    names ("Low", ...: what code computes with) shows the translated ones, in its data, sorts and
    scale domains, so `income_scale()` colours it right in any edition."""
    names = {g: _(g) for g in INCOME_COLORS}
    if all(k == v for k, v in names.items()):
        return spec

    def walk(node, key=None):
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            if key in ("domain", "sort", "oneOf"):
                return [names.get(v, v) if isinstance(v, str) else walk(v) for v in node]
            return [walk(v) for v in node]
        return node

    out = walk(spec)
    tables = list((out.get("datasets") or {}).values()) + [out.get("data", {}).get("values") or []]
    for rows in tables:
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("income_group") in names:
                row["income_group"] = names[row["income_group"]]
    return out


def _renderer(spec: dict, **metadata):
    """Altair's html output (what Jupyter shows) plus the Vega-Lite spec (what the book renders
    with its own JavaScript, see iome.sphinxext)."""
    from altair.vegalite.v6.display import html_renderer
    spec = _income_groups_shown(spec)
    bundle = html_renderer(spec, **metadata)
    bundle = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
    bundle[VEGALITE_MIME] = spec
    return bundle


alt.theme.register("iome", enable=True)(_theme)
alt.renderers.register("iome", _renderer)
alt.renderers.enable("iome")


def source_template(name: str) -> tuple[str, str | None]:
    """A resource's attribution as a template and its indicator code: ("World Bank, World Development
    Indicators ({}), CC BY 4.0.", "SP.POP.TOTL"); the template is what the catalogues translate."""
    res = data.describe(name)
    text = res.get("attribution") or res["title"]
    m = re.match(r"^(.*) \(([^()]+)\)(, .*)$", text)
    return (m.group(1) + " ({})" + m.group(3), m.group(2)) if m else (text, None)


def source_line(*names: str) -> str:
    """'Source: ...' text naming the dataset, indicator code and licence of each resource."""
    parts: dict[str, list[str]] = {}  # "World Bank, WDI ({}), CC BY 4.0." -> indicator codes
    for name in names:
        key, code = source_template(name)
        codes = parts.setdefault(key, [])
        if code and code not in codes:
            codes.append(code)
    return _("Source:") + " " + " ".join(_(k).format(", ".join(v)) if v else _(k) for k, v in parts.items())


def income_scale() -> alt.Scale:
    """Colours of the income groups, by their names in the course language (see :func:`income_labels`)."""
    return alt.Scale(domain=income_order(), range=list(INCOME_COLORS.values()))


def income_order() -> list[str]:
    """The income groups, poorest first, in the course language."""
    return [_(g) for g in INCOME_COLORS]


def income_labels(frame: pd.DataFrame, column: str = "income_group") -> pd.DataFrame:
    """A copy whose income-group names are in the course language: for what a chart shows only
    (compute with the data's own names: "Low", "Lower middle", ...)."""
    out = frame.copy()
    if column in out:
        out[column] = out[column].map(lambda g: _(g) if isinstance(g, str) else g)
    return out


def label(frame: pd.DataFrame, home: str | None = None) -> pd.DataFrame:
    """Add 'role' (home country / comparison) and 'label' columns used for highlighting."""
    home = home or load_course().home
    out = income_labels(frame)
    out["role"] = (out["iso3"] == home).map({True: "Home country", False: "Comparison"})  # a flag, not shown
    out["label"] = out["name"] + (out["iso3"] == home).map({True: " " + _("(home)"), False: ""})
    # only what the chart draws: the data is embedded in the page, keep it small
    return out[[c for c in ("iso3", "name", "income_group", "year", "value", "role", "label") if c in out]]


def compare_bar(frame: pd.DataFrame, *, title: str, unit: str, source: str, description: str,
                home: str | None = None, width: int = 520) -> alt.Chart:
    """Horizontal bars of one value per country, coloured by income group, home country outlined.

    ``frame`` needs iso3, name, income_group, year and value (e.g. from ``data.latest``).
    """
    frame = label(frame, home).sort_values("value", ascending=False)
    return alt.Chart(frame, title=alt.Title(title, subtitle=[source]), description=description,
                     width=width, height=alt.Step(18)).mark_bar(strokeWidth=2).encode(
        x=alt.X("value:Q", title=unit),
        y=alt.Y("label:N", sort=None, title=None),
        color=alt.Color("income_group:N", scale=income_scale(), title=_("Income group (World Bank)")),
        stroke=alt.condition(alt.datum.role == "Home country", alt.value(HOME_COLOR), alt.value(None)),
        tooltip=[alt.Tooltip("name:N", title=_("Country")), alt.Tooltip("income_group:N", title=_("Income group")),
                 alt.Tooltip("value:Q", title=unit, format=",.1f"), alt.Tooltip("year:O", title=_("Year"))],
    )


def by_income(frame: pd.DataFrame, *, title: str, unit: str, source: str, description: str,
              home: str | None = None, log: bool = False, width: int = 520) -> alt.LayerChart:
    """Every country as a dot on one axis per income group; the home country is a labelled black ring.

    Shows the spread inside each group, so no group is reduced to a single number.
    """
    frame = label(frame.dropna(subset=["income_group"]), home)
    scale = alt.Scale(type="log") if log else alt.Scale(zero=True)
    y = alt.Y("income_group:N", sort=income_order(), title=_("Income group (World Bank)"))
    base = alt.Chart(frame, width=width, height=alt.Step(46))
    dots = base.mark_circle(size=55, opacity=0.65).encode(
        x=alt.X("value:Q", title=unit, scale=scale),
        y=y,
        yOffset=alt.YOffset("jitter:Q", scale=alt.Scale(domain=[-1, 1])),
        color=alt.Color("income_group:N", scale=income_scale(), legend=None),
        tooltip=[alt.Tooltip("name:N", title=_("Country")), alt.Tooltip("value:Q", title=unit, format=",.1f"),
                 alt.Tooltip("year:O", title=_("Year"))],
    ).transform_calculate(jitter="sqrt(-2*log(random()))*cos(2*PI*random())/3")
    home_frame = base.transform_filter(alt.datum.role == "Home country")
    ring = home_frame.mark_point(size=180, shape="circle", filled=False, color=HOME_COLOR,
                                 strokeWidth=2.5).encode(x=alt.X("value:Q", scale=scale), y=y)
    text = home_frame.mark_text(dy=-16, fontWeight="bold", color=HOME_COLOR).encode(
        x=alt.X("value:Q", scale=scale), y=y, text="label:N")
    # title and description on the layer itself: the book reads them from the top-level spec
    return alt.layer(dots, ring, text, title=alt.Title(title, subtitle=[source]), description=description)


def income_summary(frame: pd.DataFrame, unit: str, home: str | None = None) -> str:
    """Plain-language summary of a by-income chart (medians per group, the home country's value),
    used as the chart's text description for screen readers."""
    from .chapters import number
    home = home or load_course().home
    groups = frame.dropna(subset=["income_group", "value"]).groupby("income_group")["value"]
    parts = [_("{group}-income countries median {median} ({n} countries)").format(
                 group=_(g), median=number(groups.median()[g]), n=groups.size()[g])
             for g in INCOME_COLORS if g in groups.groups]
    own = frame[frame["iso3"] == home].dropna(subset=["value"])
    name = country_names().get(home, home)
    mine = (" " + _("{name} (home country): {value} in {year}.").format(
                name=name, value=number(own["value"].iloc[0]), year=int(own["year"].iloc[0]))
            if len(own) else " " + _("No recent value for the home country ({name}).").format(name=name))
    return _("Dot plot by World Bank income group, in {unit}:").format(unit=unit) + " " + "; ".join(parts) + "." + mine


def indicator_chart(name: str, iso3s: list[str] | None = None, *, since: int | None = None,
                    home: str | None = None) -> alt.Chart:
    """Latest value of one dataset for chosen countries (default: home country and peers)."""
    res = data.describe(name)
    course = load_course()
    iso3s = list(iso3s or course.focus)
    frame = data.latest(name, since=since)
    frame = frame[frame["iso3"].isin(iso3s)]
    missing = sorted(set(iso3s) - set(frame["iso3"]))
    from .chapters import country_list, number
    unit, title = _(res.get("unit", "")) if res.get("unit") else "", res["title"]
    shown = ", ".join(f"{r.name} {number(r.value)}" for r in frame.sort_values("value", ascending=False).itertuples())
    description = (_("Bar chart of {title} (latest year available for each country): {shown}.").format(
                       title=_(title), shown=shown)
                   + (" " + _("No data for {names}.").format(names=country_list(missing)) if missing else ""))
    years = f"{frame['year'].min()}–{frame['year'].max()}" if len(frame) else _("no data")
    return compare_bar(frame, title=_(title), unit=unit,
                       source=source_line(name) + " " + _("Latest year per country ({years}).").format(years=years),
                       description=description, home=home or course.home)


# ---- the book's web form of a chart (used by iome.sphinxext when it writes a page) -------------

MIN_FONT = 11  # px: no text on the site smaller than this
# column names that reach tooltips without a title of their own -> what a reader should see
FIELD_TITLES = {"iso3": "Country code", "name": "Country", "label": "Country", "income_group": "Income group",
                "region": "Region", "year": "Year", "value": "Value", "role": "Role"}


def _text(value) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None or isinstance(value, dict) else str(value)


def human_field(field: str) -> str:
    """'excess_per_100k' -> 'Excess per 100k' (a tooltip title when the chart gave none)."""
    base = field.split(".")[-1]
    return _(FIELD_TITLES[base]) if base in FIELD_TITLES else (base.replace("_", " ").strip().capitalize() or base)


def _walk(node, visit):
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def _fix_encodings(spec: dict) -> list[str]:
    """Tooltips get human titles (the axis/legend title of the same field, else a readable field
    name); returns the channel titles seen, for a generated description."""
    seen: list[str] = []

    def visit(node):
        enc = node.get("encoding")
        if not isinstance(enc, dict):
            return
        titles = {}
        for channel, fdef in enc.items():
            if isinstance(fdef, dict) and isinstance(fdef.get("field"), str) and channel != "tooltip":
                title = fdef.get("title")
                if isinstance(title, str) and title:
                    titles.setdefault(fdef["field"], title)
                    if channel in ("x", "y", "color", "size", "shape"):
                        seen.append(f"{channel} {title}" if channel in ("x", "y") else title)
        tips = enc.get("tooltip")
        for tip in (tips if isinstance(tips, list) else [tips] if isinstance(tips, dict) else []):
            if isinstance(tip, dict) and isinstance(tip.get("field"), str) and not tip.get("title"):
                tip["title"] = titles.get(tip["field"]) or human_field(tip["field"])

    _walk(spec, visit)
    return list(dict.fromkeys(seen))


def wrap(text: str, width: int = 30) -> str | list[str]:
    """A long axis or legend title as lines (Vega draws a list as lines; SVG text never wraps)."""
    lines = textwrap.wrap(text, width)
    return lines if len(lines) > 1 else text


def _wrap_axis_titles(spec: dict) -> None:
    def visit(node):
        enc = node.get("encoding")
        if not isinstance(enc, dict):
            return
        for channel in ("x", "y", "color", "shape", "size"):
            fdef = enc.get(channel)
            if not isinstance(fdef, dict):
                continue
            if isinstance(fdef.get("title"), str):
                fdef["title"] = wrap(fdef["title"])
            for guide in ("axis", "legend"):
                if isinstance(fdef.get(guide), dict) and isinstance(fdef[guide].get("title"), str):
                    fdef[guide]["title"] = wrap(fdef[guide]["title"])

    _walk(spec, visit)


def _hoist_from_layers(spec: dict) -> None:
    """A layered chart built from a titled base chart repeats the title (and description) in every
    layer, where Vega draws it inside the plot: move it to the top once."""
    layers = spec.get("layer")
    if not isinstance(layers, list):
        return
    for key in ("title", "description"):
        found = [layer[key] for layer in layers if isinstance(layer, dict) and key in layer]
        if found and key not in spec:
            spec[key] = found[0]
        if found:
            for layer in layers:
                if isinstance(layer, dict) and layer.get(key) == spec.get(key):
                    layer.pop(key)


def _merge_legends(spec: dict) -> None:
    """Colour and shape of the same field get the same domain, so Vega-Lite draws one legend."""
    def visit(node):
        enc = node.get("encoding")
        if not isinstance(enc, dict):
            return
        color, shape = enc.get("color"), enc.get("shape")
        if not (isinstance(color, dict) and isinstance(shape, dict) and color.get("field")
                and color.get("field") == shape.get("field")):
            return
        domain = (color.get("scale") or {}).get("domain") or color.get("sort") or shape.get("sort")
        if isinstance(domain, list):
            for fdef in (color, shape):
                fdef.setdefault("scale", {})["domain"] = domain
                fdef.pop("sort", None)
            if color.get("title") and shape.get("title") and color["title"] != shape["title"]:
                shape["title"] = color["title"]

    _walk(spec, visit)


def _min_fonts(spec: dict) -> None:
    def visit(node):
        for key, value in list(node.items()):
            if key.lower().endswith("fontsize") and isinstance(value, (int, float)) and value < MIN_FONT:
                node[key] = MIN_FONT

    _walk(spec, visit)


def web_spec(spec: dict) -> dict:
    """Split a Vega-Lite spec into what the book puts in HTML and what Vega draws.

    Returns {"spec", "title", "source", "description"}: the title and source lines leave the SVG
    (HTML text wraps on a phone; SVG text does not), tooltips get human titles, no text is smaller
    than 11 px, legends sit below the plot, and marks carry no ARIA of their own (the chart is one
    image with one description). Widths are set in the browser (static/iome-charts.js).
    """
    spec = json.loads(json.dumps(spec))
    _hoist_from_layers(spec)
    _merge_legends(spec)
    title, source = "", []
    top = spec.get("title")
    if isinstance(top, (str, list)):
        title, top = _text(top), None
    elif isinstance(top, dict):
        if isinstance(top.get("text"), (str, list)):
            title = _text(top.pop("text"))
        sub = top.pop("subtitle", None)
        source = [sub] if isinstance(sub, str) else [str(s) for s in sub or []]
        top = top if "text" in top else None
    if top:
        spec["title"] = top
    else:
        spec.pop("title", None)
    meta = spec.get("usermeta", {}).get("iome", {})
    if meta.get("source"):
        source.append(meta["source"])
    seen = _fix_encodings(spec)
    _wrap_axis_titles(spec)
    _min_fonts(spec)
    config = spec.setdefault("config", {})
    config["aria"] = False  # one label for the whole chart, set on the <svg> by iome-charts.js
    for key in ("axis", "legend", "header", "title"):
        part = config.setdefault(key, {})
        for prop in ("labelFontSize", "titleFontSize", "fontSize", "subtitleFontSize"):
            if isinstance(part.get(prop), (int, float)) and part[prop] < MIN_FONT:
                part[prop] = MIN_FONT
    config["legend"].update({"orient": "bottom", "direction": "horizontal", "labelLimit": 260,
                             "titleLimit": 320, "columns": {"expr": "width < 420 ? 1 : 2"}})
    config.setdefault("text", {}).setdefault("fontSize", MIN_FONT)

    def legends_below(node):
        legend = node.get("legend")
        if isinstance(legend, dict) and legend.get("orient") in ("left", "right", "top"):
            legend["orient"] = "bottom"

    _walk(spec, legends_below)
    description = _text(spec.get("description")).strip()
    if not description or description.lower() == "chart":
        kind = spec.get("mark", {}).get("type") if isinstance(spec.get("mark"), dict) else spec.get("mark")
        what = f"{kind} chart" if isinstance(kind, str) else "Chart"
        description = f"{what.capitalize()}: {title or 'untitled'}" + (f" ({'; '.join(seen)})" if seen else "") + "."
    spec["description"] = description
    return {"spec": spec, "title": title, "source": source, "description": description}
