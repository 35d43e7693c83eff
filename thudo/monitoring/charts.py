"""Small server-rendered SVG charts for the monitoring pages, accessible by construction.

Every chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (a sentence that says
what the chart shows), writes its numbers and labels as text (never colour alone: the target line
is labelled, the forecast is dashed and labelled, bars carry their value and status in words),
and comes with a `DataTable` holding the same numbers, which the page shows right after it
(``monitoring/partials/chart.html``). No JavaScript, no library: strings built from escaped text,
so the SVG is well-formed XML.

The charts are drawn in a narrow view box (360 units wide, text of 14–15 units) so that their
text stays readable when the page is 360 px wide; they scale up to the width of their box on
larger screens.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import numberformat, timezone
from django.utils.formats import date_format, get_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

Number = int | float | Decimal

WIDTH = 360
FONT = 15
SMALL = 14
INK = "#1b1b1f"
MUTED = "#4b4b55"
GRID = "#d9d7d0"
SERIES = "#1f3f73"  # on white: 10.9:1
TARGET = "#1e7b34"  # on white: 5.4:1
FORECAST = "#8a3b00"  # on white: 7.4:1

# Status colours: each at least 4.5:1 on white, and every status is written in words too.
TONES: dict[str, str] = {
    "achieved": "#1e7b34",
    "on_track": "#0a58ca",
    "at_risk": "#8a5a00",
    "off_track": "#a1121a",
    "no_data": "#5f5f69",
    "": SERIES,
}


@dataclass(frozen=True)
class DataTable:
    """The numbers behind a chart: the first column holds the row headers."""

    caption: str
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Chart:
    ident: str
    title: str
    description: str
    svg: SafeString
    table: DataTable


@dataclass(frozen=True)
class Bar:
    label: str
    value: Number | None
    text: str = ""  # written after the bar; default: the value and the unit
    tone: str = ""  # a status key (TONES), for the colour only
    extra: list[str] = field(default_factory=list)  # more cells for the table's row


# --- formatting ------------------------------------------------------------------------------


def number(value: Number | None, places: int = 2) -> str:
    """A number in the active language's notation (1.234,5 in Vietnamese), "—" for no value."""
    if value is None or isinstance(value, bool):
        return "—"
    if not math.isfinite(float(value)):
        return "—"
    rounded = round(Decimal(str(value)), places)
    shown: Number = int(rounded) if rounded == rounded.to_integral_value() else rounded.normalize()
    return numberformat.format(
        shown,
        get_format("DECIMAL_SEPARATOR"),
        grouping=3,  # Vietnamese groups thousands too; Django's vi formats leave it out
        thousand_sep=get_format("THOUSAND_SEPARATOR"),
        force_grouping=True,
    )


def with_unit(value: Number | None, unit: str, places: int = 2) -> str:
    if value is None:
        return _("No data")
    text = number(value, places)
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def short_date(day: date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


def _new_ident(ident: str | None) -> str:
    return ident or f"chart-{uuid.uuid4().hex[:8]}"


def _f(value: float) -> str:
    """A coordinate, short."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: int = FONT,
    fill: str = INK,
    weight: str = "",
) -> str:
    bold = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" fill="{fill}" '
        f'text-anchor="{anchor}"{bold}>{escape(content)}</text>'
    )


def _svg(ident: str, height: float, title: str, description: str, body: list[str]) -> SafeString:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mon-chart-svg" '
        f'viewBox="0 0 {WIDTH} {_f(height)}" width="{WIDTH}" height="{_f(height)}" '
        f'role="img" aria-labelledby="{ident}-title {ident}-desc" focusable="false" '
        f"font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', Arial, "
        f'sans-serif">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 — every text is escaped


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10ⁿ apart) covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


# --- line chart ------------------------------------------------------------------------------


def line_chart(
    *,
    title: str,
    points: Sequence[tuple[date, Number | None]],
    unit: str = "",
    target: Number | None = None,
    forecast: tuple[date, Number] | None = None,
    description: str = "",
    ident: str | None = None,
    value_label: str = "",
) -> Chart:
    """The values over time as a solid line (gaps where there was no data), the target as a
    labelled horizontal line, and the forecast as a dashed line from the last value to the
    forecast at the deadline."""
    ident = _new_ident(ident)
    known = [(d, float(v)) for d, v in points if v is not None]
    if forecast is not None and (not known or forecast[0] <= known[-1][0]):
        forecast = None  # a forecast is drawn ahead of the last value, never behind it
    description = description or _line_description(known, unit, target, forecast)
    height = 300.0
    left, right, top, bottom = 44.0, 10.0, 22.0, 70.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    body: list[str] = []

    values = [v for _d, v in known]
    if target is not None:
        values.append(float(target))
    if forecast is not None:
        values.append(float(forecast[1]))
    days = [d for d, _v in points]
    if forecast is not None:
        days.append(forecast[0])

    if not known and target is None:
        body.append(_text(WIDTH / 2, height / 2, _("No data yet"), anchor="middle", fill=MUTED))
    else:
        low = min([0.0, *values])
        high = max([*values, low + 1])
        ticks = nice_ticks(low, high)
        y_low, y_high = ticks[0], ticks[-1]
        first_day = min(days) if days else timezone.localdate()
        last_day = max(days) if days else first_day
        span = max((last_day - first_day).days, 1)

        def x_of(day: date) -> float:
            return left + plot_w * (day - first_day).days / span

        def y_of(value: float) -> float:
            return top + plot_h * (1 - (value - y_low) / (y_high - y_low))

        for tick in ticks:  # grid and the value axis
            y = y_of(tick)
            body.append(
                f'<line x1="{_f(left)}" x2="{_f(WIDTH - right)}" y1="{_f(y)}" y2="{_f(y)}" '
                f'stroke="{GRID}" stroke-width="1"/>'
            )
            body.append(_text(left - 6, y + 5, number(tick), anchor="end", size=SMALL, fill=MUTED))
        axis_y = top + plot_h
        body.append(
            f'<line x1="{_f(left)}" x2="{_f(WIDTH - right)}" y1="{_f(axis_y)}" '
            f'y2="{_f(axis_y)}" stroke="{MUTED}" stroke-width="1"/>'
        )
        for day, anchor in _date_ticks(first_day, last_day):
            body.append(
                _text(
                    x_of(day), axis_y + 18, short_date(day), anchor=anchor, size=SMALL, fill=MUTED
                )
            )

        if target is not None:
            y = y_of(float(target))
            body.append(
                f'<line x1="{_f(left)}" x2="{_f(WIDTH - right)}" y1="{_f(y)}" y2="{_f(y)}" '
                f'stroke="{TARGET}" stroke-width="2"/>'
            )
            label = _("Target: {value}").format(value=with_unit(target, unit))
            body.append(
                _text(WIDTH - right - 2, y - 6, label, anchor="end", size=SMALL, fill=TARGET)
            )

        for segment in _segments(points):  # the values, broken where there was no data
            coords = " ".join(f"{_f(x_of(d))},{_f(y_of(v))}" for d, v in segment)
            if len(segment) == 1:
                d, v = segment[0]
                body.append(
                    f'<circle cx="{_f(x_of(d))}" cy="{_f(y_of(v))}" r="3" fill="{SERIES}"/>'
                )
            else:
                body.append(
                    f'<polyline points="{coords}" fill="none" stroke="{SERIES}" '
                    f'stroke-width="2.5" stroke-linejoin="round"/>'
                )

        if forecast is not None:
            last_d, last_v = known[-1]
            fx, fy = x_of(forecast[0]), y_of(float(forecast[1]))
            body.append(
                f'<line x1="{_f(x_of(last_d))}" y1="{_f(y_of(last_v))}" x2="{_f(fx)}" '
                f'y2="{_f(fy)}" stroke="{FORECAST}" stroke-width="2" stroke-dasharray="6 4"/>'
            )
            body.append(
                f'<circle cx="{_f(fx)}" cy="{_f(fy)}" r="4" fill="#fff" stroke="{FORECAST}" '
                f'stroke-width="2"/>'
            )

        # The legend says which line is which, in words and with the same strokes.
        legend_y = height - 14
        items = [(_("Value"), SERIES, "")]
        if target is not None:
            items.append((_("Target"), TARGET, ""))
        if forecast is not None:
            items.append((_("Forecast"), FORECAST, "6 4"))
        x = left
        for label, colour, dash in items:
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            body.append(
                f'<line x1="{_f(x)}" x2="{_f(x + 24)}" y1="{_f(legend_y - 4)}" '
                f'y2="{_f(legend_y - 4)}" stroke="{colour}" stroke-width="2.5"{dashed}/>'
            )
            body.append(_text(x + 30, legend_y, label, size=SMALL))
            x += 42 + 8 * len(label)

    svg = _svg(ident, height, title, description, body)
    column = value_label or (_("Value ({unit})").format(unit=unit) if unit else _("Value"))
    rows = [[short_date(d), number(v) if v is not None else _("No data")] for d, v in points]
    if target is not None:
        rows.append([_("Target"), number(target)])
    if forecast is not None:
        rows.append(
            [_("Forecast for {day}").format(day=short_date(forecast[0])), number(forecast[1])]
        )
    table = DataTable(title, [_("Date"), column], rows)
    return Chart(ident, title, description, svg, table)


def _segments(points: Sequence[tuple[date, Number | None]]) -> list[list[tuple[date, float]]]:
    segments: list[list[tuple[date, float]]] = []
    current: list[tuple[date, float]] = []
    for day, value in points:
        if value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append((day, float(value)))
    if current:
        segments.append(current)
    return segments


def _date_ticks(first: date, last: date) -> list[tuple[date, str]]:
    if first == last:
        return [(first, "start")]
    middle = first + (last - first) / 2
    return [(first, "start"), (middle, "middle"), (last, "end")]


def _line_description(
    known: list[tuple[date, float]],
    unit: str,
    target: Number | None,
    forecast: tuple[date, Number] | None,
) -> str:
    parts: list[str] = []
    if known:
        parts.append(
            _("{count} values from {start} to {end}; the latest is {value} on {day}.").format(
                count=len(known),
                start=short_date(known[0][0]),
                end=short_date(known[-1][0]),
                value=with_unit(known[-1][1], unit),
                day=short_date(known[-1][0]),
            )
        )
    else:
        parts.append(_("No values yet."))
    if target is not None:
        parts.append(_("The target is {value}.").format(value=with_unit(target, unit)))
    if forecast is not None:
        parts.append(
            _("The forecast for {day} is {value} (dashed line).").format(
                day=short_date(forecast[0]), value=with_unit(forecast[1], unit)
            )
        )
    return " ".join(parts)


# --- horizontal bars -------------------------------------------------------------------------


def bar_chart(
    *,
    title: str,
    bars: Sequence[Bar],
    unit: str = "",
    max_value: Number | None = None,
    description: str = "",
    ident: str | None = None,
    label_header: str = "",
    value_header: str = "",
    extra_headers: Sequence[str] = (),
) -> Chart:
    """One horizontal bar per row, its label above it (so long Vietnamese names fit a phone)
    and its value written after it."""
    ident = _new_ident(ident)
    known = [float(b.value) for b in bars if b.value is not None]
    top_value = float(max_value) if max_value is not None else max([*known, 0.0])
    top_value = top_value or 1.0
    row_h = 50.0
    height = max(row_h * len(bars) + 8, 40.0)
    bar_w = 210.0
    body: list[str] = []
    if not bars:
        body.append(_text(WIDTH / 2, 24, _("No data yet"), anchor="middle", fill=MUTED))
    for index, bar in enumerate(bars):
        y = 4 + index * row_h
        text = bar.text or with_unit(bar.value, unit)
        body.append(f"<g><title>{escape(bar.label)}: {escape(text)}</title>")
        body.append(_text(0, y + 15, _shorten(bar.label, 42), size=FONT))
        body.append(
            f'<rect x="0" y="{_f(y + 22)}" width="{_f(bar_w)}" height="18" fill="#f1f0ec"/>'
        )
        if bar.value is not None:
            share = max(0.0, min(1.0, float(bar.value) / top_value))
            width = max(bar_w * share, 2.0 if share > 0 else 0.0)
            colour = TONES.get(bar.tone, SERIES)
            body.append(
                f'<rect x="0" y="{_f(y + 22)}" width="{_f(width)}" height="18" fill="{colour}"/>'
            )
        body.append(_text(bar_w + 6, y + 36, _shorten(text, 20), size=SMALL, weight="600"))
        body.append("</g>")
    if not description:
        description = _("{count} bars; the numbers are in the table after the chart.").format(
            count=len(bars)
        )
    svg = _svg(ident, height, title, description, body)
    columns = [
        label_header or _("Item"),
        value_header or (_("Value ({unit})").format(unit=unit) if unit else _("Value")),
        *extra_headers,
    ]
    rows = [
        [b.label, number(b.value) if b.value is not None else _("No data"), *b.extra] for b in bars
    ]
    return Chart(ident, title, description, svg, DataTable(title, columns, rows))


# --- status counts ---------------------------------------------------------------------------


def status_bar(
    *,
    title: str,
    counts: Sequence[tuple[str, str, int]],
    description: str = "",
    ident: str | None = None,
) -> Chart:
    """The number of targets in each status as one stacked bar, with a legend that writes
    every status and its count (``counts``: (status key, label, count))."""
    ident = _new_ident(ident)
    total = sum(n for _k, _l, n in counts)
    legend_rows = math.ceil(len(counts) / 2)
    height = 48 + 24 * legend_rows
    body: list[str] = []
    x = 0.0
    if total:
        for key, label, n in counts:
            if not n:
                continue
            width = WIDTH * n / total
            body.append(
                f'<rect x="{_f(x)}" y="4" width="{_f(width)}" height="30" '
                f'fill="{TONES.get(key, SERIES)}" stroke="#fff" stroke-width="1">'
                f"<title>{escape(label)}: {n}</title></rect>"
            )
            if width >= 22:
                body.append(
                    _text(x + width / 2, 24, str(n), anchor="middle", fill="#fff", weight="700")
                )
            x += width
    else:
        body.append(f'<rect x="0" y="4" width="{WIDTH}" height="30" fill="#f1f0ec"/>')
        body.append(_text(WIDTH / 2, 24, _("No targets yet"), anchor="middle", fill=MUTED))
    for index, (key, label, n) in enumerate(counts):
        lx = (index % 2) * (WIDTH / 2)
        ly = 56 + (index // 2) * 24
        body.append(
            f'<rect x="{_f(lx)}" y="{_f(ly - 11)}" width="14" height="14" '
            f'fill="{TONES.get(key, SERIES)}"/>'
        )
        body.append(_text(lx + 20, ly, f"{label}: {n}", size=SMALL))
    if not description:
        description = "; ".join(f"{label}: {n}" for _k, label, n in counts) + "."
    svg = _svg(ident, height, title, description, body)
    rows = [[label, str(n)] for _k, label, n in counts]
    rows.append([_("Total"), str(total)])
    table = DataTable(title, [_("Status"), _("Targets")], rows)
    return Chart(ident, title, description, svg, table)
