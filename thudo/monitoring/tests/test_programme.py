"""The programme as data: Resolution 18-NQ/TU with Plan 239, every target of the domain notes,
sources wired as declared, periods due ten days after they end, DTI to 1,000, loaded once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from thudo.core.registry import registry
from thudo.monitoring import programme as data
from thudo.monitoring.models import (
    DtiComponent,
    Indicator,
    Pillar,
    Programme,
    ReportingPeriod,
    Target,
    Task,
)

from . import programme_fixtures

hn_agencies = programme_fixtures.hn_agencies
programme = programme_fixtures.programme

pytestmark = pytest.mark.django_db


def test_the_resolution_with_its_plan_and_four_pillars(programme: Programme) -> None:
    assert programme.code == data.RESOLUTION
    assert programme.parent is None
    assert programme.start == date(2022, 12, 30)
    assert "18-NQ/TU" in programme.name and "30/12/2022" in programme.legal_basis
    assert programme.agency.code == "HN"
    plan = Programme.objects.get(code=data.PLAN)
    assert plan.parent == programme and "239/KH-UBND" in plan.name
    assert list(Pillar.objects.filter(programme=programme).values_list("name_en", flat=True)) == [
        "Digital government",
        "Digital economy",
        "Digital society",
        "Digitisation",
    ]

    from thudo.monitoring.selectors import programme_current

    assert programme_current() == programme


def test_every_domain_target_is_there_with_its_figures(programme: Programme) -> None:
    targets = {t.code: t for t in Target.objects.select_related("agency", "pillar")}
    expected = {
        # code: (target value, deadline, agency, direction, unit)
        "cqs-dvc-toan-trinh-2025": ("100", date(2025, 12, 31), "HN-TTPVHCC", "up", "%"),
        "kts-ty-trong-grdp-2025": ("30", date(2025, 12, 31), "HN-STC", "up", "%"),
        "kts-ty-trong-grdp-2030": ("40", date(2030, 12, 31), "HN-STC", "up", "%"),
        "xhs-cap-quang-ho-gia-dinh-2025": ("80", date(2025, 12, 31), "HN-SKHCN", "up", "%"),
        "xhs-cap-quang-phuong-xa-2025": ("100", date(2025, 12, 31), "HN-SKHCN", "up", "%"),
        "xhs-thanh-toan-dien-tu-2025": ("50", date(2025, 12, 31), "HN-SCT", "up", "%"),
        "kts-nang-suat-lao-dong-2025": ("7", date(2025, 12, 31), "HN-STC", "up", "%"),
        "sh-csdl-ket-noi-2025": ("100", date(2025, 12, 31), "HN-SKHCN", "up", "%"),
        "cqs-van-ban-so-thanh-pho-2025": ("90", date(2025, 12, 31), "HN-SNV", "up", "%"),
        "cqs-van-ban-so-phuong-xa-2025": ("80", date(2025, 12, 31), "HN-SNV", "up", "%"),
        "cqs-van-ban-so-toi-thieu-2025": ("60", date(2025, 12, 31), "HN-SNV", "up", "%"),
        "cqs-thanh-tra-so-2025": ("50", date(2025, 12, 31), "HN-SNV", "up", "%"),
        "cqs-xep-hang-dti-2025": ("5", date(2025, 12, 31), "HN-SKHCN", "down", "hạng"),
    }
    for code, (goal, deadline, agency, direction, unit) in expected.items():
        target = targets[code]
        assert target.target_value == Decimal(goal), code
        assert target.deadline == deadline, code
        assert target.agency.code == agency, code
        assert target.direction == direction, code
        assert target.unit == unit, code
    for target in targets.values():
        assert target.baseline is not None and target.baseline_date is not None, target.code
        assert "demo baseline" in target.description, target.code
        assert target.indicators.filter(is_primary=True).count() == 1, target.code
    # the district level is gone: its 80% read as the wards' and communes' rate, and said so
    assert "01/7/2025" in targets["cqs-van-ban-so-phuong-xa-2025"].description
    assert "mobile" in targets["cqs-dvc-toan-trinh-2025"].name_en
    assert len(targets) == len(data.TARGETS) == 19
    assert {t.pillar.code for t in targets.values()} == {p.code for p in data.PILLARS}


def test_live_indicators_name_registry_sources_and_missing_ones_stay_unregistered(
    programme: Programme,
) -> None:
    registered = {i.code for i in registry.indicators()}
    computed = dict(
        Indicator.objects.filter(kind=Indicator.Kind.COMPUTED).values_list("code", "source")
    )
    live = {
        "dossiers.online_rate",
        "dossiers.on_time_rate",
        "dossiers.digitisation_rate",
        "dossiers.satisfaction",
        "feedback.on_time_rate",
        "feedback.satisfaction",
    }
    assert live <= set(computed.values())
    assert live <= registered
    missing = {"payments.electronic_share", "exchange.registries_connected"}
    assert missing <= set(computed.values())
    assert not (missing & registered)  # they answer "no data" until a domain registers them
    for indicator in Indicator.objects.filter(kind=Indicator.Kind.COMPUTED):
        assert indicator.source and not indicator.evidence_required
    for indicator in Indicator.objects.filter(kind=Indicator.Kind.REPORTED).select_related(
        "target"
    ):
        assert indicator.evidence_required
        assert indicator.frequency in (Indicator.Frequency.QUARTERLY, Indicator.Frequency.YEARLY)
        assert indicator.unit == indicator.target.unit
        if indicator.unit == "%":
            assert (indicator.min_value, indicator.max_value) in (
                (Decimal(0), Decimal(100)),
                (Decimal(-50), Decimal(50)),
            )


def test_periods_are_quarters_and_years_due_ten_days_after(programme: Programme) -> None:
    periods = ReportingPeriod.objects.filter(programme=programme)
    quarters = periods.filter(frequency=Indicator.Frequency.QUARTERLY).order_by("start")
    years = periods.filter(frequency=Indicator.Frequency.YEARLY).order_by("start")
    assert quarters.count() >= 8 and years.count() >= 2
    assert quarters[0].start == date(2025, 1, 1) and quarters[0].end == date(2025, 3, 31)
    q4 = quarters.get(start=date(2025, 10, 1))
    assert q4.end == date(2025, 12, 31) and q4.due == date(2026, 1, 10)
    assert years.get(start=date(2026, 1, 1)).end == date(2026, 12, 31)
    for period in periods:
        assert period.due == period.end + timedelta(days=10)


def test_tasks_and_dti(programme: Programme) -> None:
    tasks = Task.objects.filter(target__pillar__programme=programme)
    assert tasks.count() == len(data.TASKS) >= 30
    assert tasks.filter(state=Task.State.OPEN).count() == tasks.count()  # the demo finishes some
    assert len({t.agency_id for t in tasks}) >= 8
    assert any(t.done for t in data.TASKS) and any(
        not t.done and t.due < date(2026, 11, 1) for t in data.TASKS
    )
    components = DtiComponent.objects.filter(year=2025)
    assert components.count() == 8
    assert sum(c.max_points for c in components) == Decimal(1000)
    assert set(components.values_list("group", flat=True)) == set(DtiComponent.Group.values)
    linked = components.get(code="ha-tang-so").indicator
    assert linked is not None and linked.code == "xhs-cap-quang-ho-gia-dinh"


def test_loading_again_creates_nothing_and_keeps_edits(
    programme: Programme, django_assert_max_num_queries: Any
) -> None:
    Target.objects.filter(code="kts-ty-trong-grdp-2025").update(target_value=Decimal(31))
    counts = [
        m.objects.count()
        for m in (Programme, Pillar, Target, Indicator, ReportingPeriod, Task, DtiComponent)
    ]
    with django_assert_max_num_queries(20):
        result = data.programme_load_counted()
    assert result.programme == programme
    assert not any(result.created.values())
    assert counts == [
        m.objects.count()
        for m in (Programme, Pillar, Target, Indicator, ReportingPeriod, Task, DtiComponent)
    ]
    assert Target.objects.get(code="kts-ty-trong-grdp-2025").target_value == Decimal(31)


def test_periods_follow_the_years_after_2026(hn_agencies: dict[str, Any]) -> None:
    resolution = data.programme_load(today=date(2028, 2, 1))
    years = set(
        ReportingPeriod.objects.filter(
            programme=resolution, frequency=Indicator.Frequency.YEARLY
        ).values_list("start__year", flat=True)
    )
    assert years == {2025, 2026, 2027, 2028}


def test_missing_agencies_are_named(make_agency: Any) -> None:
    make_agency("HN", kind="city_committee")
    with pytest.raises(LookupError, match="HN-SKHCN"):
        data.programme_load()
    assert not Programme.objects.exists()
