"""City news and alerts: who may send them, what is checked, who receives them (in the app at
once, by e-mail in batches after commit), and the officers' pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from thudo.accounts.models import User
from thudo.accounts.testing import login_verified
from thudo.core.errors import PermissionDenied, ValidationFailed
from thudo.core.models import AdminUnit, AuditEvent
from thudo.notifications import services
from thudo.notifications.models import CityAlert, Notification
from thudo.notifications.services import alert_emails_send, alert_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def city(make_agency: Any) -> Any:
    return make_agency("HN", kind="city_committee", name="Ủy ban nhân dân thành phố Hà Nội")


@pytest.fixture
def officer(city: Any, make_official: Any) -> Any:
    """The city's communications officer (may send alerts)."""
    return make_official("communications_officer", city, username="truyenthong")


@pytest.fixture
def other_ward(hanoi: Any) -> AdminUnit:
    unit = AdminUnit.objects.filter(parent=hanoi).exclude(code="00070").order_by("code").first()
    assert unit is not None
    return unit


def _resident(n: int, unit: Any, email: str = "", active: bool = True) -> User:
    return User.objects.create_user(
        username=f"resident{n}", email=email, home_unit=unit, is_active=active
    )


@pytest.fixture
def residents(ward: Any, other_ward: Any) -> dict[str, User]:
    return {
        "mailed": _resident(1, ward, "an@example.vn"),
        "app_only": _resident(2, ward),
        "inactive": _resident(3, ward, "off@example.vn", active=False),
        "elsewhere": _resident(4, other_ward, "xa@example.vn"),
    }


def _send(officer: Any, **overrides: Any) -> CityAlert:
    values: dict[str, Any] = {
        "sender": officer,
        "level": CityAlert.Level.NEWS,
        "title": "Cắt nước ngày 5/12",
        "body": "Phường tạm ngừng cấp nước từ 8 giờ đến 17 giờ.",
        "unit_codes": ["00070"],
    }
    values.update(overrides)
    return alert_send(**values)


# --- the service ---------------------------------------------------------------------------


def test_an_alert_reaches_the_active_residents_of_the_wards_in_the_app_and_by_email(
    officer: Any, residents: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        alert = _send(officer)
        assert mail.outbox == []  # nothing before the commit

    assert alert.recipients == 2
    assert [u.code for u in alert.units.all()] == ["00070"]
    got = Notification.objects.filter(title="Cắt nước ngày 5/12")
    assert {n.user_id for n in got} == {residents["mailed"].pk, residents["app_only"].pk}
    assert len(callbacks) == 1  # one batch of e-mails
    assert [m.to for m in mail.outbox] == [["an@example.vn"]]
    assert mail.outbox[0].subject == "Cắt nước ngày 5/12"
    assert "8 giờ đến 17 giờ" in mail.outbox[0].body
    mailed = got.get(user=residents["mailed"])
    assert mailed.emailed_to == "an@example.vn" and mailed.emailed_at is not None
    assert got.get(user=residents["app_only"]).emailed_at is None
    audit = AuditEvent.objects.get(action="alert.send")
    assert audit.actor == officer and audit.object_id == str(alert.pk)
    assert audit.data == {"level": "news", "units": ["00070"], "recipients": 2}


def test_an_urgent_alert_is_marked_urgent_in_vietnamese(
    officer: Any, residents: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _send(officer, level=CityAlert.Level.URGENT, title="Ngập sâu đường Láng")
    with translation.override("vi"):
        prefix = gettext("[Urgent]")  # "[Khẩn]" in the Vietnamese catalogue
    assert [m.subject for m in mail.outbox] == [f"{prefix} Ngập sâu đường Láng"]
    note = Notification.objects.get(user=residents["app_only"])
    assert note.title == f"{prefix} Ngập sâu đường Láng"
    assert CityAlert.objects.get().title == "Ngập sâu đường Láng"  # the alert keeps its own


def test_recipients_are_inserted_and_emailed_in_batches(
    officer: Any, ward: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setattr(services, "ALERT_BATCH", 2)
    for n in range(5):
        _resident(10 + n, ward, f"r{n}@example.vn")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        alert = _send(officer)
    assert alert.recipients == 5 and len(callbacks) == 3  # 2 + 2 + 1
    assert sorted(m.to[0] for m in mail.outbox) == [f"r{n}@example.vn" for n in range(5)]
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


def test_a_batch_is_not_sent_twice(
    officer: Any, residents: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _send(officer)
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert alert_emails_send(notification_ids=ids) == 0
    assert len(mail.outbox) == 1


def test_a_rolled_back_alert_sends_nothing(
    officer: Any, residents: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import transaction

    class Boom(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        _send(officer)
        raise Boom
    assert callbacks == [] and mail.outbox == []
    assert not CityAlert.objects.exists() and not Notification.objects.exists()


def test_only_officers_who_may_send_alerts_send_them(
    residents: dict[str, User], make_official: Any, city: Any, citizen: Any
) -> None:
    clerk = make_official("receiving_officer", city, username="motcua")
    for sender in (clerk, citizen):
        with pytest.raises(PermissionDenied):
            _send(sender)
    assert not CityAlert.objects.exists() and not Notification.objects.exists()


def test_every_field_is_checked(officer: Any, hanoi: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _send(officer, level="whisper", title="  ", body="", unit_codes=[])
    assert set(caught.value.fields) == {"level", "title", "body", "unit_codes"}

    with pytest.raises(ValidationFailed) as caught:
        _send(officer, unit_codes=["00070", "99999", "01"])  # "01" is the city, not a ward
    message = str(caught.value.fields["unit_codes"])
    assert "99999" in message and "01" in message and "00070" not in message

    with pytest.raises(ValidationFailed) as caught:
        _send(officer, title="x" * 201, body="y" * 5001)
    assert set(caught.value.fields) == {"title", "body"}
    assert not CityAlert.objects.exists()


# --- the pages -----------------------------------------------------------------------------


@pytest.fixture
def english() -> Any:
    with translation.override("en"):
        yield


def _as(client: Any, user: Any) -> Any:
    login_verified(client, user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_the_pages_need_an_officer_who_may_send_alerts(
    client: Any, officer: Any, make_official: Any, city: Any, citizen: Any
) -> None:
    for name in ("notifications:alerts", "notifications:alert_new"):
        url = reverse(name)
        assert client.get(url).status_code == 302  # to the sign-in page
        client.force_login(citizen)
        assert client.get(url).status_code == 403
        clerk = make_official("receiving_officer", city, username=f"clerk-{name[-3:]}")
        assert _as(client, clerk).get(url).status_code == 403
        assert _as(client, officer).get(url).status_code == 200
        client.logout()
    assert reverse("notifications:alerts") == "/notifications/alerts/"
    assert reverse("notifications:alert_new") == "/notifications/alerts/new/"


def test_the_form_groups_the_wards_and_sends_to_all_of_them(
    client: Any,
    officer: Any,
    residents: dict[str, User],
    english: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    c = _as(client, officer)
    html = c.get(reverse("notifications:alert_new")).content.decode()
    assert "<legend>Wards (" in html and "<legend>Communes (" in html
    assert 'id="unit-00070"' in html and "Phường Hoàn Kiếm" in html
    assert 'name="all_units"' in html

    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(
            reverse("notifications:alert_new"),
            {"level": "urgent", "title": "Bão số 3", "body": "Ở trong nhà.", "all_units": "on"},
        )
    assert response.status_code == 302 and response["Location"] == reverse("notifications:alerts")
    alert = CityAlert.objects.get()
    assert (
        alert.level == "urgent"
        and alert.units.count() == AdminUnit.objects.filter(parent__code="01").count()
    )
    assert alert.recipients == 3  # the inactive resident gets nothing
    assert len(mail.outbox) == 2

    html = c.get(reverse("notifications:alerts")).content.decode()
    assert "Bão số 3" in html and "All wards and communes" in html and "badge-late" in html
    assert "The alert was sent to 3 residents." in html


def test_the_form_sends_to_chosen_wards_and_shows_errors_by_field(
    client: Any, officer: Any, residents: dict[str, User], other_ward: Any, english: Any
) -> None:
    c = _as(client, officer)
    url = reverse("notifications:alert_new")
    response = c.post(url, {"level": "news", "title": "", "body": ""})
    assert response.status_code == 422
    html = response.content.decode()
    assert "The alert was not sent" in html
    assert 'href="#id_title"' in html and 'href="#units-fieldset"' in html
    assert "Choose at least one ward or commune" in html
    assert not CityAlert.objects.exists()

    response = c.post(
        url, {"level": "news", "title": "Họp dân", "body": "19 giờ.", "units": [other_ward.code]}
    )
    assert response.status_code == 302
    alert = CityAlert.objects.get()
    assert list(alert.units.values_list("code", flat=True)) == [other_ward.code]
    assert alert.recipients == 1
    html = c.get(reverse("notifications:alerts")).content.decode()
    assert other_ward.name in html

    response = c.post(url, {"level": "news", "title": "x", "body": "y", "units": ["99999"]})
    assert response.status_code == 422  # not a choice of the form


def test_the_list_pages_without_extra_queries_per_alert(
    client: Any, officer: Any, ward: Any, other_ward: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = _as(client, officer)
    url = reverse("notifications:alerts")

    def count() -> int:
        c.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return len(ctx.captured_queries)

    _send(officer, unit_codes=[ward.code])
    few = count()
    for n in range(6):
        _send(officer, title=f"Tin {n}", unit_codes=[ward.code, other_ward.code])
    assert count() == few
