"""Dashboard statistics per handling unit and category, by aggregate queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from thudo.feedback import services
from thudo.feedback.selectors import StatRow, feedback_statistics, feedback_totals

from . import factories
from .factories import MONDAY_10, photo, submit

# The domain's fixtures (assigned, not imported, so that test arguments may share the names).
fb = factories.fb
media_root = factories.media_root

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
D = timedelta(days=1)


def build(fb: Any) -> None:
    """Ward/pothole: one handled on time and rated 4, one late and rated 2, one open and overdue,
    one open from before the period. Department/lighting: one accepted on time."""
    old = submit(fb, now=MONDAY_10 - 30 * D)  # before the period, still open
    assert old.pk
    good = submit(fb, now=MONDAY_10)
    services.report_accept(user=fb.ward_officer, report=good, now=MONDAY_10 + H)
    services.report_answer(
        user=fb.ward_officer,
        report=good,
        text="Đã vá",
        resolution="fixed",
        evidence=[photo()],
        now=MONDAY_10 + 3 * H,
    )
    services.report_rate(user=fb.resident, report=good, rating=4)
    late = submit(fb, now=MONDAY_10 + H)
    services.report_accept(user=fb.ward_officer, report=late, now=MONDAY_10 + 5 * D)
    services.report_answer(
        user=fb.ward_officer,
        report=late,
        text="Đã trả lời",
        resolution="answered",
        now=MONDAY_10 + H + 30 * D,
    )
    services.report_rate(user=fb.resident, report=late, rating=2)
    submit(fb, now=MONDAY_10 + 2 * H)  # open, overdue by the time we look
    lamp = submit(fb, category=fb.lighting, now=MONDAY_10 + 3 * H)
    services.report_accept(user=fb.dept_officer, report=lamp, now=MONDAY_10 + 4 * H)


def test_statistics_per_unit_and_category(fb: Any) -> None:
    build(fb)
    now = MONDAY_10 + 3 * D
    rows = feedback_statistics(start=MONDAY_10 - H, end=MONDAY_10 + D, now=now)
    by_key = {(r.agency_id, r.category_code): r for r in rows}
    assert set(by_key) == {(fb.ward_agency.pk, "pothole"), (fb.department.pk, "lighting")}
    ward = by_key[(fb.ward_agency.pk, "pothole")]
    assert ward == StatRow(
        agency_id=fb.ward_agency.pk,
        agency_name="UBND phường Hoàn Kiếm",
        category_code="pothole",
        category_name="Danh mục pothole",
        received=3,
        accepted_on_time=1,
        accepted_late=1,
        resolved_on_time=1,
        resolved_late=1,
        backlog=2,  # the open one of the period and the one from before
        overdue=2,
        avg_resolution_hours=round((3 + 30 * 24) / 2, 2),
        rated=2,
        satisfied=1,
        satisfaction_rate=0.5,
    )
    assert ward.accepted_on_time_rate == 0.5
    lamp = by_key[(fb.department.pk, "lighting")]
    assert (lamp.received, lamp.accepted_on_time, lamp.backlog, lamp.overdue) == (1, 1, 1, 0)
    assert lamp.avg_resolution_hours is None and lamp.satisfaction_rate is None
    assert lamp.resolved_on_time_rate is None


def test_statistics_filter_by_agency_and_list_units_with_only_a_backlog(fb: Any) -> None:
    build(fb)
    rows = feedback_statistics(
        start=MONDAY_10 + 10 * D,
        end=MONDAY_10 + 11 * D,
        agency_ids=[fb.ward_agency.pk],
        now=MONDAY_10 + 3 * D,
    )
    assert len(rows) == 1
    assert (rows[0].received, rows[0].backlog, rows[0].overdue) == (0, 2, 2)


def test_totals(fb: Any) -> None:
    build(fb)
    total = feedback_totals(start=MONDAY_10 - H, end=MONDAY_10 + D, now=MONDAY_10 + 3 * D)
    assert total.agency_id is None
    assert (total.received, total.backlog, total.overdue) == (4, 3, 2)
    assert (total.accepted_on_time, total.accepted_late) == (2, 1)
    assert (total.rated, total.satisfied, total.satisfaction_rate) == (2, 1, 0.5)
    assert total.avg_resolution_hours == round((3 + 30 * 24) / 2, 2)


def test_statistics_cost_two_queries_whatever_the_rows(
    fb: Any, django_assert_num_queries: Any
) -> None:
    build(fb)
    with django_assert_num_queries(2):
        feedback_statistics(start=MONDAY_10 - 60 * D, end=MONDAY_10 + 60 * D)


def test_no_reports_no_rows(fb: Any) -> None:
    assert feedback_statistics(start=MONDAY_10, end=MONDAY_10 + D) == []
    total = feedback_totals(start=MONDAY_10, end=MONDAY_10 + D)
    assert total.received == 0 and total.satisfaction_rate is None
