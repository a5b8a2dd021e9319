"""Markdown and self-contained HTML from a report document (see ``_doc``).

The HTML page loads nothing: its style is inline, charts are inline SVG, there is no script
and no font to fetch, so it opens offline and prints (a print stylesheet keeps tables whole and
drops the screen colours). Every value goes through :func:`html.escape`: report text can hold
names from the manifest or a rule id, never markup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Final

from personakit.reporting._doc import is_suppressed

__all__ = ["cell_text", "to_html", "to_markdown"]

_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1b1b}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:12.5px}
th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.suppressed{color:#777;font-style:italic}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem}
dl.summary dt{font-weight:600}dl.summary dd{margin:0}
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.25rem}
.empty{color:#666;font-style:italic}.notes{color:#333}
nav a{margin-right:1rem}
@media print{body{margin:0;color:#000}th{background:none}nav{display:none}
table,figure{page-break-inside:avoid}a{color:#000;text-decoration:none}}
"""
_COLOURS: Final = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
_W: Final = 640
_H: Final = 240
_PAD: Final = 40
_MAX_LABELS: Final = 12  # more x labels than this would overlap: show every n-th


def cell_text(value: Any) -> str:
    """A cell as plain text: suppressed cells read ``<k (suppressed)``, lists are joined."""
    if is_suppressed(value):
        return "suppressed (complement)" if value.get("complementary") is True else "suppressed"
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Mapping[str, Any]) -> str:
    """The report as Markdown: summary list, one pipe table per table, charts as tables."""
    lines = [f"# {_md_escape(doc['title'])}", ""]
    lines.append(f"Generated {doc['generated_at']}; small-cell threshold k = {doc['k']}.")
    lines.append("")
    lines.extend(f"- {_md_escape(str(note))}" for note in doc["notes"])
    lines.append("")
    if doc["summary"]:
        lines.append("## Summary")
        lines.append("")
        lines.extend(
            f"- **{_md_escape(key)}**: {_md_escape(cell_text(value))}"
            for key, value in doc["summary"].items()
        )
        lines.append("")
    for tab in doc["tables"]:
        lines.extend(_md_table(tab["title"], tab["columns"], tab["rows"]))
    for fig in doc["charts"]:
        rows = [
            {"label": label, **{s["name"]: s["values"][i] for s in fig["series"]}}
            for i, label in enumerate(fig["labels"])
        ]
        lines.extend(
            _md_table(
                f"Chart: {fig['title']}", ["label", *(s["name"] for s in fig["series"])], rows
            )
        )
    return "\n".join(lines).rstrip() + "\n"


def _md_table(title: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out = [f"## {_md_escape(title)}", ""]
    if not rows:
        return [*out, "_(none)_", ""]
    out.append("| " + " | ".join(_md_escape(c) for c in columns) + " |")
    out.append("|" + "---|" * len(columns))
    out.extend(
        "| " + " | ".join(_md_escape(cell_text(row.get(c))) for c in columns) + " |" for row in rows
    )
    return [*out, ""]


def to_html(doc: Mapping[str, Any], *, nav: Sequence[tuple[str, str]] = ()) -> str:
    """The report as one self-contained HTML page (``nav``: (href, label) links to show)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        (
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src data:\">"
        ),
        f"<title>{e(doc['title'])}</title><style>{_CSS}</style></head><body>",
    ]
    if nav:
        links = "".join(f'<a href="{e(href)}">{e(label)}</a>' for href, label in nav)
        parts.append(f"<nav>{links}</nav>")
    parts.append(f"<h1>{e(doc['title'])}</h1>")
    parts.append(
        f"<p>Generated {e(doc['generated_at'])}; small-cell threshold k = {e(str(doc['k']))}.</p>"
    )
    if doc["notes"]:
        parts.append(
            '<ul class="notes">' + "".join(f"<li>{e(str(n))}</li>" for n in doc["notes"]) + "</ul>"
        )
    if doc["summary"]:
        items = "".join(
            f"<dt>{e(key)}</dt><dd>{e(cell_text(value))}</dd>"
            for key, value in doc["summary"].items()
        )
        parts.append(f'<h2>Summary</h2><dl class="summary">{items}</dl>')
    parts.extend(_svg_chart(fig) for fig in doc["charts"])
    parts.extend(_html_table(tab) for tab in doc["tables"])
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(tab: Mapping[str, Any]) -> str:
    e = html.escape
    head = f'<h2 id="{e(tab["id"])}">{e(tab["title"])}</h2>'
    if not tab["rows"]:
        return (
            head
            + f'<table data-table="{e(tab["id"])}" class="empty-table"><thead><tr>'
            + "".join(f"<th>{e(c)}</th>" for c in tab["columns"])
            + '</tr></thead><tbody><tr><td class="empty" colspan="'
            + str(len(tab["columns"]))
            + '">none</td></tr></tbody></table>'
        )
    cells = []
    for row in tab["rows"]:
        tds = []
        for column in tab["columns"]:
            value = row.get(column)
            css = (
                ' class="suppressed"'
                if is_suppressed(value)
                else ' class="num"'
                if isinstance(value, (int, float)) and not isinstance(value, bool)
                else ""
            )
            tds.append(f"<td{css}>{e(cell_text(value))}</td>")
        cells.append("<tr>" + "".join(tds) + "</tr>")
    header = "".join(f'<th scope="col">{e(c)}</th>' for c in tab["columns"])
    return (
        f'{head}<table data-table="{e(tab["id"])}"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(cells)}</tbody></table>"
    )


def _svg_chart(fig: Mapping[str, Any]) -> str:
    """A line or bar chart as inline SVG, with a text alternative."""
    e = html.escape
    labels: list[str] = [str(label) for label in fig["labels"]]
    series = [s for s in fig["series"] if any(v is not None for v in s["values"])]
    caption = f"<figcaption>{e(fig['title'])}</figcaption>"
    opening = f'<figure data-chart="{e(fig["id"])}">{caption}'
    if not labels or not series:
        return (
            opening
            + f'<svg role="img" aria-label="{e(fig["title"])}: no data" width="{_W}" height="40"'
            ' xmlns="http://www.w3.org/2000/svg"><text x="4" y="24" font-size="12">no data</text>'
            "</svg></figure>"
        )
    top = max((v for s in series for v in s["values"] if v is not None), default=0.0) or 1.0
    plot_w, plot_h = _W - 2 * _PAD, _H - 2 * _PAD
    step = plot_w / max(len(labels), 1)

    def y(value: float) -> float:
        return _H - _PAD - plot_h * value / top

    shapes = [
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#444"/>',
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#444"/>',
        f'<text x="2" y="{_PAD}" font-size="10">{e(_fmt(top))}</text>',
        f'<text x="2" y="{_H - _PAD}" font-size="10">0</text>',
    ]
    shapes.extend(
        f'<text x="{_PAD + step * i + step / 2:.1f}" y="{_H - _PAD + 14}" font-size="9" '
        f'text-anchor="middle">{e(label)}</text>'
        for i, label in enumerate(labels)
        if len(labels) <= _MAX_LABELS or i % max(len(labels) // _MAX_LABELS, 1) == 0
    )
    for n, s in enumerate(series):
        colour = _COLOURS[n % len(_COLOURS)]
        points = [
            (_PAD + step * i + step / 2, y(float(v)))
            for i, v in enumerate(s["values"])
            if v is not None
        ]
        if fig["kind"] == "bar":
            width = step / (len(series) + 1)
            for i, v in enumerate(s["values"]):
                if v is None:
                    continue
                x = _PAD + step * i + width * (n + 0.5)
                shapes.append(
                    f'<rect x="{x:.1f}" y="{y(float(v)):.1f}" width="{width:.1f}" '
                    f'height="{_H - _PAD - y(float(v)):.1f}" fill="{colour}"/>'
                )
        else:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            shapes.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>'
            )
            shapes.extend(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>' for px, py in points
            )
        shapes.append(
            f'<text x="{_W - _PAD + 4}" y="{_PAD + 14 * n}" font-size="10" fill="{colour}">'
            f"{e(str(s['name']))}</text>"
        )
    svg = (
        f'<svg role="img" aria-label="{e(fig["title"])}" width="{_W + 120}" height="{_H}" '
        f'viewBox="0 0 {_W + 120} {_H}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(shapes)
        + "</svg>"
    )
    return opening + svg + "</figure>"


def _fmt(value: float) -> str:
    return f"{value:.4g}"
