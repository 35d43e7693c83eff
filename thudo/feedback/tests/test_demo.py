"""The feedback demo: made through the services, every status present, loaded only once."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from thudo.feedback.models import (
    Assignment,
    Category,
    Report,
    ReportEvent,
    ReportStatus,
    ResponseTemplate,
    Visibility,
)


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def demo_city(hanoi: Any) -> None:
    """Units and the accounts' demo (agencies, officials, 1,000 citizens)."""
    from thudo.core.models import AdminUnit
    from thudo.core.registry import registry

    # A centre set before the demo (e.g. from real boundaries) is kept.
    AdminUnit.objects.filter(code="00073").update(latitude=21.0, longitude=105.8)
    for step in registry.demo_steps():
        if step.name in ("units", "accounts"):
            step.load()


@pytest.mark.django_db(transaction=False)
def test_demo_feedback_covers_every_status_and_is_idempotent(demo_city: None) -> None:
    from thudo.core.models import AdminUnit
    from thudo.feedback.demo import demo_load

    out = io.StringIO()
    demo_load(stdout=out)
    count = Report.objects.count()
    assert 280 <= count <= 320, out.getvalue()
    assert set(Report.objects.values_list("status", flat=True)) == set(ReportStatus.values)
    # on time and late, at acceptance and at resolution
    assert Report.objects.filter(accepted_on_time=True).exists()
    assert Report.objects.filter(accepted_on_time=False).exists()
    assert Report.objects.filter(resolved_on_time=True).exists()
    assert Report.objects.filter(resolved_on_time=False).exists()
    # ratings, a reopened report escalated and handled at the next level
    assert Report.objects.filter(satisfied=True).exists()
    assert Report.objects.filter(satisfied=False).exists()
    reopened = Report.objects.filter(level=1, status=ReportStatus.CLOSED).first()
    assert reopened is not None and reopened.reopened_at is not None
    assert reopened.assignments.filter(state=Assignment.State.ESCALATED).exists()
    assert reopened.agency.kind == "department"
    assert Assignment.objects.filter(state=Assignment.State.TRANSFERRED).exists()
    assert Assignment.objects.filter(role=Assignment.Role.SUPPORT).exists()
    assert Report.objects.filter(visibility=Visibility.HIDDEN).exists()
    assert Report.objects.filter(visibility=Visibility.FLAGGED).exists()
    assert Report.objects.filter(source=Report.Source.OPEN311).exists()
    # spread over the last 60 days, every moment in the past, clocks after the submission
    now = timezone.now()
    oldest = Report.objects.order_by("submitted_at").first()
    assert oldest is not None and oldest.submitted_at < now - timedelta(days=40)
    assert not ReportEvent.objects.filter(at__gt=now).exists()
    assert not Report.objects.filter(accept_due__lt=timezone.now() - timedelta(days=90)).exists()
    for report in Report.objects.all():
        assert report.accept_due > report.submitted_at
        if report.accepted_at:
            assert report.accepted_at >= report.submitted_at
    # the reference data
    assert Category.objects.filter(code="street-light").exists()
    assert ResponseTemplate.objects.filter(agency=None, category=None).exists()
    assert AdminUnit.objects.get(code="00070").latitude == pytest.approx(21.0287, abs=0.01)
    assert AdminUnit.objects.get(code="00073").latitude == 21.0  # not overwritten

    demo_load(stdout=out)
    assert Report.objects.count() == count
    assert Category.objects.filter(code="emergency").count() == 1


@pytest.mark.django_db(transaction=False)
def test_demo_emergency_category_redirects_and_the_open311_key_works(demo_city: None) -> None:
    from thudo.accounts.models import User
    from thudo.accounts.permissions import can
    from thudo.accounts.roles import Perm
    from thudo.accounts.services import api_token_authenticate
    from thudo.core.errors import ValidationFailed
    from thudo.feedback import services
    from thudo.feedback.demo import (
        CATEGORIES,
        COMMUNICATIONS_OFFICER,
        OPEN311_DEMO_KEY,
        categories_load,
        handlers_load,
        open311_client_load,
    )

    assert categories_load() == len(CATEGORIES) == 12
    emergency = Category.objects.get(code="emergency")
    assert emergency.redirect_phone == "114"
    assert "113" in emergency.notice and "115" in emergency.notice
    citizen = User.objects.filter(kind=User.Kind.CITIZEN).first()
    with pytest.raises(ValidationFailed) as refused:
        services.report_submit(
            reporter=citizen,
            category=emergency,
            description="Cháy nhà",
            latitude=21.0287,
            longitude=105.8524,
            unit_code="00070",
            require_media=False,
        )
    assert "114" in str(refused.value.fields["category"])

    client = open311_client_load()
    assert api_token_authenticate(raw=OPEN311_DEMO_KEY) == client
    assert client.kind == User.Kind.SYSTEM and not client.has_usable_password()
    open311_client_load()  # idempotent
    assert client.api_tokens.count() == 1

    from thudo.accounts.models import Agency

    handlers_load({a.code: a for a in Agency.objects.all()}, [])
    officer = User.objects.get(username=COMMUNICATIONS_OFFICER)
    assert can(officer, Perm.REPORT_MODERATE) and can(officer, Perm.ALERT_SEND)
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert TOTPDevice.objects.filter(user=officer, confirmed=True).exists()
