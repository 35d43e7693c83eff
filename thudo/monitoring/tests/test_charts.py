"""The SVG charts: well-formed XML, role="img" with a title and a description, text for every
line and bar (not colour alone), and the table behind each chart holding the same numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET
from django.utils import translation

from thudo.monitoring import charts
from thudo.monitoring.charts import Bar

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def parse(chart: charts.Chart) -> ET.Element:
    root = SafeET.fromstring(str(chart.svg))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.text == chart.title
    assert desc is not None and desc.text == chart.description
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert root[0] is title and root[1] is desc  # first children, as the SVG spec wants
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_line_chart_has_the_target_line_the_dashed_forecast_and_the_numbers() -> None:
    start = date(2026, 1, 1)
    points: list[tuple[date, Decimal | None]] = [
        (start + timedelta(days=7 * i), Decimal(40 + 2 * i)) for i in range(10)
    ]
    points.insert(5, (start + timedelta(days=32), None))  # a day without data breaks the line
    chart = charts.line_chart(
        title="Online rate",
        points=points,
        unit="%",
        target=Decimal("80"),
        forecast=(date(2026, 12, 31), Decimal("75.5")),
        ident="t1",
    )
    root = parse(chart)
    words = texts(root)
    assert "Target: 80%" in words
    assert {"Value", "Target", "Forecast"} <= set(words)  # the legend, in words
    dashed = [e for e in root.iter() if e.get("stroke-dasharray")]
    assert dashed, "the forecast is dashed"
    assert len(list(root.iter(f"{SVG}polyline"))) == 2  # two runs around the gap
    assert "10 values from 01/01/2026 to 03/05/2026" in chart.description  # English: m/d/Y
    assert "the latest is 58% on 03/05/2026." in chart.description
    assert "The target is 80%." in chart.description
    assert "The forecast for 12/31/2026 is 75.5% (dashed line)." in chart.description
    # The table behind it: every point (the gap says "No data"), the target and the forecast.
    table = chart.table
    assert table.columns == ["Date", "Value (%)"]
    assert len(table.rows) == len(points) + 2
    assert table.rows[0] == ["01/01/2026", "40"]
    assert ["02/02/2026", "No data"] in table.rows
    assert table.rows[-2:] == [["Target", "80"], ["Forecast for 12/31/2026", "75.5"]]
    with translation.override("vi"):
        vietnamese = charts.line_chart(title="Tỷ lệ", points=points, unit="%", ident="t1")
    assert vietnamese.table.rows[0] == ["01/01/2026", "40"]  # d/m/Y
    assert vietnamese.table.rows[-1] == ["05/03/2026", "58"]


def test_a_forecast_behind_the_last_value_is_left_out() -> None:
    points = [(date(2026, 1, 1), Decimal(90)), (date(2026, 6, 1), Decimal(100))]
    chart = charts.line_chart(
        title="Done", points=points, target=100, forecast=(date(2025, 12, 31), Decimal(95))
    )
    root = parse(chart)
    assert "Forecast" not in texts(root)
    assert not [e for e in root.iter() if e.get("stroke-dasharray")]
    assert "forecast" not in chart.description
    assert chart.table.rows[-1] == ["Target", "100"]


def test_line_chart_without_values_says_so() -> None:
    chart = charts.line_chart(title="Empty", points=[], ident="t2")
    root = parse(chart)
    assert "No data yet" in texts(root)
    assert chart.table.rows == []
    assert chart.description == "No values yet."


def test_text_is_escaped_so_the_svg_stays_well_formed() -> None:
    chart = charts.bar_chart(
        title='Wards <"A"> & co',
        bars=[Bar('Phường <Hoàn Kiếm> & "Tràng Tiền"', 91.5, tone="achieved")],
        unit="%",
        max_value=100,
        ident="t3",
    )
    root = parse(chart)
    assert 'Phường <Hoàn Kiếm> & "Tràng Tiền"' in texts(root)
    assert chart.table.rows == [['Phường <Hoàn Kiếm> & "Tràng Tiền"', "91.5"]]


def test_bar_chart_writes_each_value_and_status_in_words() -> None:
    bars = [
        Bar("Online services", 72.4, text="72% · On track", tone="on_track", extra=["72.4%"]),
        Bar("Broadband", None, text="No data", tone="no_data", extra=["—"]),
        Bar("Over the target", 130, tone="achieved", extra=["130%"]),
    ]
    chart = charts.bar_chart(
        title="Digital government",
        bars=bars,
        max_value=100,
        ident="t4",
        label_header="Target",
        value_header="Share (%)",
        extra_headers=["Current"],
    )
    root = parse(chart)
    words = texts(root)
    assert "72% · On track" in words and "No data" in words and "130" in words
    widths = [float(r.get("width") or 0) for r in root.iter(f"{SVG}rect")]
    assert max(widths) <= 210  # a bar over 100% is capped at the full width
    assert chart.table.columns == ["Target", "Share (%)", "Current"]
    assert chart.table.rows == [
        ["Online services", "72.4", "72.4%"],
        ["Broadband", "No data", "—"],
        ["Over the target", "130", "130%"],
    ]
    # Every bar's group has a tooltip title with its label and value.
    titles = [t.text for t in root.iter(f"{SVG}title")][1:]
    assert titles[0] == "Online services: 72% · On track"


def test_status_bar_counts_every_status_with_its_label() -> None:
    counts = [
        ("achieved", "Achieved", 8),
        ("on_track", "On track", 4),
        ("at_risk", "At risk", 2),
        ("off_track", "Off track", 1),
        ("no_data", "No data", 0),
    ]
    chart = charts.status_bar(title="Targets by status", counts=counts, ident="t5")
    root = parse(chart)
    words = texts(root)
    for _key, label, n in counts:
        assert f"{label}: {n}" in words  # the legend writes each status and its count
    assert chart.description == "Achieved: 8; On track: 4; At risk: 2; Off track: 1; No data: 0."
    assert chart.table.rows[-1] == ["Total", "15"]
    assert ["Achieved", "8"] in chart.table.rows
    segments = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(segments) == 4  # no segment for a zero count


def test_status_bar_with_no_targets() -> None:
    chart = charts.status_bar(title="Targets", counts=[("achieved", "Achieved", 0)], ident="t6")
    assert "No targets yet" in texts(parse(chart))


def test_numbers_follow_the_language() -> None:
    assert charts.number(Decimal("1234.5")) == "1,234.5"
    assert charts.number(Decimal("80.00")) == "80"
    assert charts.number(None) == "—"
    with translation.override("vi"):
        assert charts.number(Decimal("1234.5")) == "1.234,5"
        assert charts.with_unit(Decimal("97.46"), "%") == "97,46%"


def test_nice_ticks_cover_the_range() -> None:
    ticks = charts.nice_ticks(0, 87)
    assert ticks[0] == 0 and ticks[-1] >= 87
    assert ticks == [0, 25, 50, 75, 100]
    assert charts.nice_ticks(5, 5)[-1] >= 5


def test_default_idents_are_unique() -> None:
    a = charts.bar_chart(title="A", bars=[])
    b = charts.bar_chart(title="B", bars=[])
    assert a.ident != b.ident
