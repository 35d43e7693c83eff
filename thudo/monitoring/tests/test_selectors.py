"""The monitoring reads: the programme's headline and pillars, a target's detail, the reporting
queues filtered by who asks, overdue work, the service ranking, a ward, the DTI."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from thudo.core.errors import NotFound
from thudo.dossiers.index import IndexFigures, IndexRow
from thudo.monitoring import selectors
from thudo.monitoring.models import (
    DtiComponent,
    Indicator,
    Pillar,
    ReportedValue,
    Status,
    Target,
)
from thudo.monitoring.tests import factories
from thudo.monitoring.tests.factories import (
    approved,
    make_indicator,
    make_period,
    make_programme,
    make_target,
    make_task,
    snap,
)

pytestmark = pytest.mark.django_db
D = Decimal
# The fixtures (pytest finds them by name in this module).
mon = factories.mon
media_root = factories.media_root


def _set_status(target: Target, value: str) -> None:
    Target.objects.filter(pk=target.pk).update(status=value)


def _waiting(mon: Any, *, by: Any = None, value: str = "70", period: Any = None) -> ReportedValue:
    return ReportedValue.objects.create(
        indicator=mon.broadband_ind,
        period=period or mon.previous,
        value=D(value),
        submitted_by=by or mon.reporter,
    )


# --- the programme -----------------------------------------------------------------------------


def test_programme_current_is_the_newest_top_level_one(mon: Any) -> None:
    assert selectors.programme_current() == mon.programme
    make_programme(
        agency=mon.city, code="kh239", parent=mon.programme, start=date(2030, 1, 1)
    )  # a plan under it: not top level
    assert selectors.programme_current() == mon.programme
    newer = make_programme(
        agency=mon.city,
        code="nq-moi",
        start=mon.programme.start.replace(year=mon.programme.start.year + 1),
    )
    assert selectors.programme_current() == newer


def test_no_programme() -> None:
    assert selectors.programme_current() is None


def test_headline_counts_the_targets_of_the_programme_and_its_plans(mon: Any) -> None:
    plan = make_programme(agency=mon.city, code="kh239", parent=mon.programme)
    pillar = Pillar.objects.create(programme=plan, code="xa-hoi-so", name="Xã hội số")
    extra = make_target(pillar, code="ky-nang-so", agency=mon.dept)
    _set_status(mon.online, Status.ACHIEVED)
    _set_status(mon.broadband, Status.AT_RISK)
    _set_status(extra, Status.ACHIEVED)
    head = selectors.headline(programme=mon.programme)
    assert (head.achieved, head.total) == (2, 3)
    assert head.by_status == {
        "achieved": 2,
        "on_track": 0,
        "at_risk": 1,
        "off_track": 0,
        "no_data": 0,
    }
    with translation.override("en"):
        assert head.text == "2 of 3 targets achieved"
        assert str(head) == head.text
    # Another programme's targets do not count.
    other = make_programme(agency=mon.city, code="khac")
    assert selectors.headline(programme=other).total == 0


def test_pillars_overview_in_a_fixed_number_of_queries(mon: Any) -> None:
    _set_status(mon.online, Status.OFF_TRACK)
    with CaptureQueriesContext(connection) as few:
        rows = selectors.pillars_overview(programme=mon.programme)
    assert [r.pillar for r in rows] == [mon.pillar]
    assert [t.code for t in rows[0].targets] == ["dvc-truc-tuyen", "cap-quang"]
    assert rows[0].by_status["off_track"] == 1
    assert rows[0].by_status["no_data"] == 1
    assert (rows[0].achieved, rows[0].total) == (0, 2)
    second = Pillar.objects.create(programme=mon.programme, code="kinh-te-so", name="Kinh tế số")
    for n in range(5):
        make_target(second, code=f"kt-{n}", agency=mon.dept)
    with CaptureQueriesContext(connection) as many:
        rows = selectors.pillars_overview(programme=mon.programme)
        for row in rows:
            for target in row.targets:
                str(target.agency)
    assert len(rows) == 2
    assert len(many) == len(few)


def test_pillar_and_target_lookups(mon: Any) -> None:
    assert selectors.pillar_get(programme=mon.programme, code="chinh-quyen-so") == mon.pillar
    with pytest.raises(NotFound):
        selectors.pillar_get(programme=mon.programme, code="nope")
    assert selectors.target_get(code="cap-quang") == mon.broadband
    with pytest.raises(NotFound):
        selectors.target_get(code="nope")


def test_target_detail(mon: Any) -> None:
    secondary = make_indicator(
        mon.online, code="phu", agency=mon.dept, source="dossiers.on_time_rate", is_primary=False
    )
    secondary.order = 1
    secondary.save()
    today = mon.today
    snap(mon.online_ind, today - timedelta(days=2), 50)
    snap(mon.online_ind, today - timedelta(days=1), None)
    snap(mon.online_ind, today, 52)
    snap(mon.online_ind, today - timedelta(days=400), 10)  # outside the year shown
    snap(secondary, today, 90)
    task = make_task(mon.online, agency=mon.dept, due=today + timedelta(days=30))
    detail = selectors.target_detail(target=mon.online)
    target, indicators, series, tasks, reported = detail  # unpacks as the spec says
    assert target == mon.online
    assert indicators == [mon.online_ind, secondary]  # the primary first
    assert series[mon.online_ind.pk] == [
        (today - timedelta(days=2), D("50.00")),
        (today - timedelta(days=1), None),
        (today, D("52.00")),
    ]
    assert series[secondary.pk] == [(today, D("90.00"))]
    assert tasks == [task]
    assert reported == []
    waiting = _waiting(mon)
    assert selectors.target_detail(target=mon.broadband).reported == [waiting]


def test_primary_indicator(mon: Any) -> None:
    assert selectors.primary_indicator(mon.online) == mon.online_ind
    Indicator.objects.filter(pk=mon.online_ind.pk).update(is_primary=False)
    assert selectors.primary_indicator(mon.online) == mon.online_ind  # the only one
    Indicator.objects.filter(target=mon.online).delete()
    assert selectors.primary_indicator(mon.online) is None


def test_indicator_series_window(mon: Any) -> None:
    today = mon.today
    snap(mon.online_ind, today - timedelta(days=30), 40)
    snap(mon.online_ind, today - timedelta(days=3), None)
    snap(mon.online_ind, today, 45)
    assert selectors.indicator_series(indicator=mon.online_ind, days=7) == [
        (today - timedelta(days=3), None),
        (today, D("45.00")),
    ]
    assert len(selectors.indicator_series(indicator=mon.online_ind)) == 3
    assert selectors.indicator_series(
        indicator=mon.online_ind, days=7, today=today - timedelta(days=1)
    ) == [(today - timedelta(days=3), None)]


# --- reporting queues ----------------------------------------------------------------------------


def test_reportable_for_the_users_agencies(mon: Any) -> None:
    assert list(selectors.reportable_for(user=mon.reporter)) == [mon.broadband_ind]
    # The city's office holds the permission in the agencies below it.
    assert list(selectors.reportable_for(user=mon.office)) == [mon.broadband_ind]
    assert list(selectors.reportable_for(user=mon.other_reporter)) == []
    assert list(selectors.reportable_for(user=mon.outsider)) == []
    assert list(selectors.reportable_for(user=mon.leader)) == []


def test_reported_for_review_is_the_offices_waiting_values_but_its_own(mon: Any) -> None:
    first = _waiting(mon)
    own = _waiting(mon, by=mon.office, period=mon.current)
    approved(mon.broadband_ind, mon.current, "60", by=mon.reporter)
    assert list(selectors.reported_for_review(user=mon.office)) == [first]
    assert list(selectors.reported_for_review(user=mon.office2)) == [first, own]
    assert list(selectors.reported_for_review(user=mon.reporter)) == []
    assert list(selectors.reported_for_review(user=mon.leader)) == []


def test_reported_of_the_users_agencies(mon: Any) -> None:
    value = _waiting(mon)
    assert list(selectors.reported_of(user=mon.reporter)) == [value]
    assert list(selectors.reported_of(user=mon.other_reporter)) == []


def test_periods_open(mon: Any) -> None:
    ind = mon.broadband_ind
    assert list(selectors.periods_open(indicator=ind)) == [mon.previous, mon.current]
    # Another frequency, a period to come, a closed one, one past its grace days: none listed.
    make_period(
        mon.programme,
        start=mon.current.start,
        end=mon.current.start + timedelta(days=27),
        frequency=Indicator.Frequency.MONTHLY,
    )
    make_period(
        mon.programme,
        start=mon.current.end + timedelta(days=1),
        end=mon.current.end + timedelta(days=90),
    )
    old = make_period(
        mon.programme,
        start=mon.previous.start - timedelta(days=92),
        end=mon.previous.start - timedelta(days=1),
        due=mon.today - timedelta(days=16),
    )
    mon.previous.closed_at = timezone.now()
    mon.previous.save()
    assert list(selectors.periods_open(indicator=ind)) == [mon.current]
    # Fifteen days after its due date, a period is still open.
    old.due = mon.today - timedelta(days=15)
    old.save()
    assert list(selectors.periods_open(indicator=ind)) == [old, mon.current]
    assert selectors.period_is_open(old)
    assert not selectors.period_is_open(old, mon.today + timedelta(days=1))


# --- overdue ---------------------------------------------------------------------------------


def test_overdue_by_agency(mon: Any) -> None:
    today = mon.today
    late = make_task(mon.online, agency=mon.dept, due=today - timedelta(days=3), title="Trễ")
    make_task(mon.online, agency=mon.dept, due=today, title="Hạn hôm nay")
    done = make_task(mon.online, agency=mon.dept, due=today - timedelta(days=9), title="Xong")
    done.state = "done"
    done.save()
    other_late = make_task(mon.broadband, agency=mon.other, due=today - timedelta(days=1))
    # A period due yesterday with nothing reported: missing. The previous one is due today.
    old = make_period(
        mon.programme,
        start=mon.previous.start - timedelta(days=92),
        end=mon.previous.start - timedelta(days=1),
        due=today - timedelta(days=1),
    )
    rows = selectors.overdue_by_agency()
    assert [r.agency for r in rows] == [mon.dept, mon.other]
    dept = rows[0]
    assert dept.tasks == [late]
    assert [(m.indicator, m.period) for m in dept.reports] == [(mon.broadband_ind, old)]
    assert dept.total == 2
    assert rows[1].tasks == [other_late]
    # Once a value is submitted (waiting or approved), the report is no longer missing; a
    # returned one still is.
    value = _waiting(mon, period=old)
    assert selectors.overdue_by_agency()[0].reports == []
    value.state = ReportedValue.State.REJECTED
    value.save()
    assert len(selectors.overdue_by_agency()[0].reports) == 1
    # Later, the previous period is overdue too.
    later = selectors.overdue_by_agency(today=today + timedelta(days=1))
    assert len(later[0].reports) == 2


def test_missing_reports_in_a_fixed_number_of_queries(mon: Any) -> None:
    for n in range(4):
        target = make_target(mon.pillar, code=f"bc-{n}", agency=mon.dept)
        make_indicator(target, code=f"bc-ind-{n}", agency=mon.dept, kind="reported")
    with CaptureQueriesContext(connection) as queries:
        missing = selectors.missing_reports(today=mon.today + timedelta(days=1))
        for item in missing:
            str(item.indicator.agency)
    assert len(missing) == 5
    assert len(queries) <= 3


# --- public services -------------------------------------------------------------------------


def _row(pk: int, name: str, **rates: Any) -> IndexRow:
    figures = IndexFigures(**rates)
    return IndexRow(pk, f"C{pk}", name, figures)


def test_ranking_by_score_and_by_on_time_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    from thudo.dossiers import index

    rows = [
        _row(1, "B", on_time_rate=90.0, online_rate=50.0),  # score 70
        _row(2, "A", on_time_rate=80.0, online_rate=80.0, satisfaction=80.0),  # 80
        _row(3, "C"),  # nothing measured
        _row(4, "D", on_time_rate=100.0, digitisation_rate=20.0),  # 60
    ]
    asked: list[dict[str, Any]] = []

    def fake(**kwargs: Any) -> list[IndexRow]:
        asked.append(kwargs)
        return rows

    monkeypatch.setattr(index, "service_index_rows", fake)
    ranked = selectors.ranking(start=date(2026, 1, 1), end=date(2026, 3, 31), group="unit")
    assert asked == [{"start": date(2026, 1, 1), "end": date(2026, 3, 31), "group": "unit"}]
    assert [(r.rank, r.code, r.score) for r in ranked] == [
        (1, "C2", 80.0),
        (2, "C1", 70.0),
        (3, "C4", 60.0),
        (0, "C3", None),
    ]
    assert ranked[0].label == "A"
    assert ranked[0].figures.on_time_rate == 80.0
    by_on_time = selectors.ranking(start=date(2026, 1, 1), end=date(2026, 3, 31), order="on_time")
    assert [r.code for r in by_on_time] == ["C4", "C1", "C2", "C3"]


def test_ranking_reads_the_dossiers_index(mon: Any) -> None:
    assert selectors.ranking(start=date(2026, 1, 1), end=date(2026, 12, 31)) == []


def test_ward_drilldown(mon: Any, make_agency: Any, ward: Any) -> None:
    with pytest.raises(NotFound):
        selectors.ward_drilldown(unit_code="99999", start=date(2026, 1, 1), end=date(2026, 12, 31))
    bare = selectors.ward_drilldown(
        unit_code="00070", start=date(2026, 1, 1), end=date(2026, 12, 31)
    )
    assert bare.unit == ward
    assert bare.agency is None and bare.feedback is None and bare.feedback_rows == []
    assert bare.figures.received == 0
    committee = make_agency("HN-00070", unit=ward, parent=mon.city, name="UBND phường Hoàn Kiếm")
    found = selectors.ward_drilldown(
        unit_code="00070", start=date(2026, 1, 1), end=date(2026, 12, 31)
    )
    assert found.agency == committee
    assert found.feedback is not None and found.feedback.received == 0
    assert found.figures.on_time_rate is None


def test_ward_drilldown_counts_the_wards_feedback(
    mon: Any, make_agency: Any, ward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thudo.feedback import stats

    committee = make_agency("HN-00070", unit=ward, parent=mon.city, name="UBND phường Hoàn Kiếm")
    sub = make_agency("HN-00070-CA", kind="other", unit=ward, parent=committee, name="Công an")
    seen: dict[str, Any] = {}

    def totals(**kwargs: Any) -> Any:
        seen.update(kwargs)
        return stats.StatRow(None, "", "", "", received=3)

    monkeypatch.setattr(stats, "feedback_totals", totals)
    found = selectors.ward_drilldown(
        unit_code="00070", start=date(2026, 3, 1), end=date(2026, 3, 31)
    )
    assert found.feedback.received == 3
    assert sorted(seen["agency_ids"]) == sorted([committee.pk, sub.pk])
    assert timezone.localtime(seen["start"]).date() == date(2026, 3, 1)
    assert timezone.localtime(seen["end"]).date() == date(2026, 4, 1)


# --- DTI -------------------------------------------------------------------------------------


def test_dti_scores(mon: Any) -> None:
    year = mon.today.year
    DtiComponent.objects.create(
        year=year,
        group="foundation",
        code="nhan-thuc",
        name="Nhận thức",
        max_points=D("50"),
        points=D("40"),
    )
    DtiComponent.objects.create(
        year=year, group="foundation", code="the-che", name="Thể chế", max_points=D("50")
    )
    linked = DtiComponent.objects.create(
        year=year,
        group="government",
        code="dvc",
        name="Dịch vụ công",
        max_points=D("80"),
        indicator=mon.online_ind,
    )
    DtiComponent.objects.create(
        year=year - 1, group="economy", code="x", name="Năm trước", max_points=D("10"), points=1
    )
    snap(mon.online_ind, date(year - 1, 12, 31), 100)  # last year's: not this year's score
    scores = selectors.dti_scores(year=year)
    groups = {g.group: g for g in scores.groups}
    assert list(groups) == ["foundation", "government", "economy", "society"]
    assert (groups["foundation"].points, groups["foundation"].max_points) == (D("40"), D("100"))
    assert groups["government"].points == D("0")  # no value this year: not scored
    assert scores.scored == 1
    assert scores.total == D("40.00")
    assert scores.max_total == D("1000")
    snap(mon.online_ind, mon.today - timedelta(days=1), 50)  # half the target 100
    scores = selectors.dti_scores(year=year)
    assert scores.total == D("80.00")
    assert [c.points for c in scores.groups[1].components] == [D("40.00")]
    linked.refresh_from_db()
    assert linked.points is None  # a read stores nothing


def test_dti_points_in_both_directions(mon: Any) -> None:
    component = DtiComponent(year=2026, group="society", code="c", name="c", max_points=D("20"))
    component.indicator = mon.online_ind  # up to 100
    assert selectors.dti_points(component, D("150")) == D("20.00")
    assert selectors.dti_points(component, D("25")) == D("5.00")
    assert selectors.dti_points(component, D("-5")) == D("0.00")
    mon.online.direction = "down"
    mon.online.target_value = D("10")
    component.indicator.target = mon.online
    assert selectors.dti_points(component, D("5")) == D("20.00")
    assert selectors.dti_points(component, D("40")) == D("5.00")
    assert selectors.dti_points(component, None) is None


def test_dti_from_a_reported_value_without_snapshots(mon: Any) -> None:
    last_year = mon.today.year - 1
    year_period = make_period(
        mon.programme,
        start=date(last_year, 1, 1),
        end=date(last_year, 12, 31),
        frequency=Indicator.Frequency.YEARLY,
    )
    mon.broadband_ind.frequency = Indicator.Frequency.YEARLY
    mon.broadband_ind.save()
    approved(mon.broadband_ind, year_period, "40", by=mon.reporter)  # half of 80
    DtiComponent.objects.create(
        year=last_year,
        group="foundation",
        code="ha-tang",
        name="Hạ tầng",
        max_points=D("100"),
        indicator=mon.broadband_ind,
    )
    assert selectors.dti_scores(year=last_year).total == D("50.00")
