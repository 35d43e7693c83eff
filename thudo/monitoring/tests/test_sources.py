"""Computed indicators read the registry's indicators: a value, or None ("no data"), never 0."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from thudo.core.registry import Indicator, Manifest, Registry
from thudo.monitoring import sources


def _boom(*_args: Any) -> Any:
    raise RuntimeError("the source is down")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """A registry with a few sources; the moments `compute_at` was asked for are recorded."""
    asked: list[datetime] = []

    def at(moment: datetime) -> float:
        asked.append(moment)
        return 12.345

    r = Registry()
    r.register(
        Manifest(
            app_label="fake",
            indicators=[
                Indicator("fake.history", "With history", lambda: 99, "%", compute_at=at),
                Indicator("fake.now", "Only now", lambda: 7, "points"),
                Indicator("fake.none", "No data", lambda: None, compute_at=lambda m: None),
                Indicator("fake.broken", "Broken", _boom, compute_at=_boom),
                Indicator("fake.text", "Not a number", lambda: "n/a"),
                Indicator("fake.bool", "A boolean", lambda: True),
                Indicator("fake.nan", "Not finite", lambda: float("nan")),
                Indicator("fake.zero", "Zero", lambda: 0),
            ],
        )
    )
    monkeypatch.setattr(sources, "registry", r)
    return asked


def test_compute_at_is_used_with_the_moment(fake: list[datetime]) -> None:
    moment = timezone.now() - timedelta(days=30)
    assert sources.source_value("fake.history", at=moment) == Decimal("12.35")
    assert fake == [moment]
    # Also for today: the history function answers for any moment.
    now = timezone.now()
    assert sources.source_value("fake.history", at=now) == Decimal("12.35")


def test_a_source_without_history_answers_for_today_only(fake: list[datetime]) -> None:
    assert sources.source_value("fake.now", at=timezone.now()) == Decimal("7.00")
    assert sources.source_value("fake.now", at=timezone.now() - timedelta(days=2)) is None


@pytest.mark.parametrize(
    "code", ["fake.none", "fake.broken", "fake.text", "fake.bool", "fake.nan", "unknown.code"]
)
def test_no_data_is_none_never_zero(
    fake: list[datetime], code: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert sources.source_value(code, at=timezone.now()) is None


def test_a_real_zero_stays_zero(fake: list[datetime]) -> None:
    assert sources.source_value("fake.zero", at=timezone.now()) == Decimal("0.00")


def test_failures_are_logged(fake: list[datetime], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="thudo.monitoring.sources"):
        sources.source_value("fake.broken", at=timezone.now())
        sources.source_value("unknown.code", at=timezone.now())
    text = caplog.text
    assert "fake.broken failed" in text
    assert "unknown.code is not a registered indicator" in text


def test_sources_available_lists_code_label_unit(fake: list[datetime]) -> None:
    listed = sources.sources_available()
    assert ("fake.history", "With history", "%") in listed
    assert ("fake.now", "Only now", "points") in listed
    assert [c for c, _label, _unit in listed] == sorted(c for c, _label, _unit in listed)


@pytest.mark.django_db
def test_the_real_registry_holds_the_domains_sources() -> None:
    """The dossiers' and feedback's rates have history (compute_at); the open counts of
    feedback only say "now"."""
    from thudo.core.registry import registry

    by_code = {i.code: i for i in registry.indicators()}
    for code in (
        "dossiers.on_time_rate",
        "dossiers.online_rate",
        "dossiers.digitisation_rate",
        "dossiers.satisfaction",
        "dossiers.overdue",
        "feedback.on_time_rate",
        "feedback.satisfaction",
    ):
        assert by_code[code].compute_at is not None, code
    assert by_code["feedback.backlog"].compute_at is None
    codes = {c for c, _label, _unit in sources.sources_available()}
    assert "dossiers.digitisation_rate" in codes
    # Nothing recorded: no data, not 0.
    assert sources.source_value("dossiers.online_rate", at=timezone.now()) is None
