"""The citizen's data tracker (/my-data/): accesses through the real in-process exchange (the
node, the log and the registries' handlers), the proof link, notifications on each access,
objections that reach the client member's agency, and the answer that reaches the citizen.

`exchange_topology` builds the embedded demo's topology (every system on node "hanoi", the
registries from thudo.registries.catalogue); the once-only tests in thudo/dossiers use it too.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from thudo.accounts.testing import login_verified
from thudo.exchange.models import (
    AccessSubscription,
    Grant,
    Member,
    Message,
    Node,
    Objection,
    Service,
    System,
)

PORTAL = "VN/GOV/HN-UBND/PORTAL"
PERSON = "VN/GOV/BCA/CSDLQGDC/person"
INSURANCE = "VN/GOV/BHXH/CSDLBH/insurance"


def exchange_topology(*, portal_agency: Any = None) -> dict[str, Any]:
    """Node "hanoi" with the portal (member HN-UBND, its agency `portal_agency`) and every
    registry of the catalogue, and the portal's grants. Needs a node key file (see
    `node_key` below)."""
    from thudo.registries.catalogue import CLIENT_GRANTS, PROVIDERS

    node = Node.objects.create(code="hanoi", name="Hà Nội", base_url="http://testserver")
    city = Member.objects.create(
        code="HN-UBND",
        name="Ủy ban nhân dân thành phố Hà Nội",
        name_en="Hanoi People's Committee",
        agency=portal_agency,
    )
    portal = System.objects.create(
        member=city,
        code="PORTAL",
        name="Cổng dịch vụ công Hà Nội",
        name_en="Hanoi public service portal",
        node=node,
    )
    for provider in PROVIDERS:
        m = provider["member"]
        member = Member.objects.create(
            member_class=m["member_class"], code=m["code"], name=m["name"], name_en=m["name_en"]
        )
        s = provider["system"]
        system = System.objects.create(
            member=member, code=s["code"], name=s["name"], name_en=s["name_en"], node=node
        )
        for service in provider["services"]:
            Service.objects.create(
                system=system,
                code=service["code"],
                name=service["name"],
                name_en=service["name_en"],
                target=service["target"],
                personal_data=service["personal_data"],
            )
    for grant in CLIENT_GRANTS:
        assert grant["client"] == PORTAL
        _inst, _cls, member_code, system_code, code = grant["service"].split("/")
        Grant.objects.create(
            client=portal,
            service=Service.objects.get(
                system__member__code=member_code, system__code=system_code, code=code
            ),
            legal_basis=grant["legal_basis"],
        )
    return {"node": node, "portal": portal, "city_member": city}


@pytest.fixture
def node_key(settings: Any, tmp_path: Path) -> Any:
    """A fresh node key in a temporary file (keys are cached per process)."""
    from thudo.exchange import keys

    settings.EXCHANGE_NODE_KEY_FILE = str(tmp_path / "node-key.json")
    settings.EXCHANGE_NODE_CODE = "hanoi"
    keys.reset_cache()
    yield
    keys.reset_cache()


@pytest.fixture
def city_agency(make_agency: Any) -> Any:
    return make_agency("HN-UBND", kind="city_committee", name="Ủy ban nhân dân thành phố Hà Nội")


@pytest.fixture
def topology(node_key: Any, city_agency: Any) -> dict[str, Any]:
    return exchange_topology(portal_agency=city_agency)


@pytest.fixture
def resident(citizen: Any, ward: Any) -> Any:
    """The fixture citizen, with a resident record in the population registry."""
    from thudo.registries.services import resident_for_user

    citizen.home_unit = ward
    citizen.email = "an@example.vn"
    citizen.save(update_fields=["home_unit", "email"])
    resident_for_user(citizen)
    return citizen


@pytest.fixture
def other(hanoi: Any, ward: Any) -> Any:
    from thudo.accounts import services
    from thudo.registries.services import resident_for_user

    user = services.citizen_create(
        personal_id="001190123457",
        full_name="Trần Thị Bình",
        sex="female",
        birth_date=date(1990, 3, 2),
        home_unit=ward,
        password="citizen-pass-2",
    )
    resident_for_user(user)
    return user


def fetch_person(
    pid: str, *, purpose: str = "1.004873 Cấp Giấy xác nhận tình trạng hôn nhân"
) -> Any:
    from thudo.exchange.client import call

    return call(
        system=PORTAL,
        service=PERSON,
        path=f"person/{pid}",
        purpose=purpose,
        end_user=pid,
        subject=pid,
    )


def en(client: Any) -> Any:
    client.cookies["thudo_language"] = "en"
    return client


# --- the list ---------------------------------------------------------------------------------


def test_the_citizen_sees_each_access_with_its_proof_and_never_anothers(
    client: Any, topology: Any, resident: Any, other: Any
) -> None:
    mine = fetch_person(resident.personal_id)
    theirs = fetch_person(other.personal_id, purpose="Thủ tục của người khác")
    assert mine.status == 200 and mine.log_index is not None

    en(client).force_login(resident)
    r = client.get(reverse("exchange_tracker:index"))
    assert r.status_code == 200
    page = r.content.decode()
    assert "Resident&#x27;s identity" in page or "Resident's identity" in page  # the service
    assert "Ministry of Public Security" in page  # the provider
    assert "Hanoi People&#x27;s Committee" in page or "Hanoi People's Committee" in page
    assert "Hanoi public service portal" in page  # the client system
    assert "1.004873 Cấp Giấy xác nhận tình trạng hôn nhân" in page  # the purpose
    proof = reverse("exchange_log:proof", kwargs={"index": mine.log_index})
    assert proof in page
    assert mine.message_id in page
    assert theirs.message_id not in page and "Thủ tục của người khác" not in page
    assert client.get(proof).status_code == 200  # the link works

    # The other citizen sees only theirs.
    client.force_login(other)
    page = client.get(reverse("exchange_tracker:index")).content.decode()
    assert theirs.message_id in page and mine.message_id not in page


def test_filters_and_pages(client: Any, topology: Any, resident: Any, settings: Any) -> None:
    from thudo.exchange import views_tracker
    from thudo.exchange.client import call
    from thudo.registries.models import InsuranceRecord

    InsuranceRecord.objects.create(
        insurance_number="0112233445", personal_id=resident.personal_id, status="contributing"
    )
    pid = resident.personal_id
    person = [fetch_person(pid) for _ in range(3)]
    insurance = call(
        system=PORTAL,
        service=INSURANCE,
        path=f"insurance/{pid}",
        purpose="Kiểm tra bảo hiểm",
        end_user=pid,
        subject=pid,
    )
    assert insurance.status == 200

    client.force_login(resident)
    url = reverse("exchange_tracker:index")
    page = client.get(url, {"service": INSURANCE}).content.decode()
    assert insurance.message_id in page
    assert not any(p.message_id in page for p in person)

    # An old access is out of a date range that ends before it; today's are in.
    Message.objects.filter(message_id=person[0].message_id).update(
        started_at=timezone.now() - timedelta(days=40)
    )
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    page = client.get(url, {"start": since}).content.decode()
    assert person[1].message_id in page and person[0].message_id not in page
    r = client.get(url, {"start": "2026-02-01", "end": "2026-01-01"})
    assert r.status_code == 400

    old = views_tracker.PAGE_SIZE
    views_tracker.PAGE_SIZE = 2
    try:
        first = client.get(url).content.decode()
        second = client.get(url, {"page": 2}).content.decode()
    finally:
        views_tracker.PAGE_SIZE = old
    # Newest first: the insurance call, then the person calls.
    assert insurance.message_id in first and person[0].message_id not in first
    assert person[0].message_id in second and insurance.message_id not in second


def test_a_citizen_without_personal_id_sees_no_accesses(client: Any, topology: Any) -> None:
    from thudo.accounts.models import User

    user = User.objects.create_user(username="nopid", password="x-pass-12345")
    client.force_login(user)
    r = client.get(reverse("exchange_tracker:index"))
    assert r.status_code == 200 and r.context["rows"] == []


def test_the_tracker_needs_sign_in(client: Any, db: Any) -> None:
    r = client.get(reverse("exchange_tracker:index"))
    assert r.status_code == 302 and "login" in r["Location"]


# --- notifications ------------------------------------------------------------------------------


def test_a_subscriber_is_notified_of_each_access_and_can_stop(
    client: Any, topology: Any, resident: Any, other: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from thudo.notifications.models import Notification

    client.force_login(resident)
    r = client.post(reverse("exchange_tracker:subscription"), {"action": "subscribe"})
    assert r.status_code == 302
    assert AccessSubscription.objects.filter(user=resident).exists()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fetch_person(resident.personal_id)
        fetch_person(other.personal_id)  # not subscribed: nothing for them
    notes = list(Notification.objects.filter(user=resident))
    assert len(notes) == 1
    assert notes[0].url == reverse("exchange_tracker:index")
    assert notes[0].emailed_to == "an@example.vn" and callbacks  # the e-mail, after commit
    assert not Notification.objects.filter(user=other).exists()

    client.post(reverse("exchange_tracker:subscription"), {"action": "unsubscribe"})
    assert not AccessSubscription.objects.filter(user=resident).exists()
    fetch_person(resident.personal_id)
    assert Notification.objects.filter(user=resident).count() == 1


def test_on_exchange_ignores_refused_calls_and_never_raises(topology: Any, resident: Any) -> None:
    from thudo.exchange.tracker import on_exchange
    from thudo.notifications.models import Notification

    AccessSubscription.objects.create(user=resident)
    refused = Message(
        side="client",
        message_id="refused-0001",
        client=PORTAL,
        service=PERSON,
        method="GET",
        subject=resident.personal_id,
        error_code="access_denied",
        status=403,
    )
    on_exchange(refused)
    on_exchange(Message(side="provider", message_id="x" * 8, subject=resident.personal_id))
    assert not Notification.objects.filter(user=resident).exists()


# --- objections -------------------------------------------------------------------------------


@pytest.fixture
def stewards(make_official: Any, city_agency: Any, make_agency: Any) -> Any:
    """A data steward of the portal's agency, and one of another agency."""
    from types import SimpleNamespace

    other_agency = make_agency("HN-SNNMT", kind="department", name="Sở Nông nghiệp và Môi trường")
    return SimpleNamespace(
        city=make_official("data_steward", city_agency, username="steward"),
        other=make_official("data_steward", other_agency, username="steward2"),
        other_agency=other_agency,
    )


def test_an_objection_reaches_the_agency_and_the_answer_reaches_the_citizen(
    client: Any, topology: Any, resident: Any, stewards: Any, city_agency: Any
) -> None:
    from thudo.core.models import AuditEvent
    from thudo.notifications.models import Notification

    access = fetch_person(resident.personal_id)
    message = Message.objects.get(side="client", message_id=access.message_id)
    url = reverse("exchange_tracker:object", args=[message.pk])

    en(client).force_login(resident)
    assert client.get(url).status_code == 200
    r = client.post(url, {"text": ""})
    assert r.status_code == 400 and not Objection.objects.exists()
    r = client.post(url, {"text": "x" * 2001})
    assert r.status_code == 400 and not Objection.objects.exists()
    r = client.post(url, {"text": "Tôi không nộp hồ sơ nào vào ngày này."})
    assert r.status_code == 302
    objection = Objection.objects.get()
    assert objection.agency == city_agency and objection.message == message
    assert objection.user == resident and objection.status == "open"
    assert AuditEvent.objects.filter(
        action="exchange.objection_file", object_id=str(objection.pk)
    ).exists()
    assert Notification.objects.filter(user=stewards.city).count() == 1
    assert not Notification.objects.filter(user=stewards.other).exists()

    # The agency's steward sees and answers it; another agency's steward cannot.
    steward_client = en(login_verified(client.__class__(), stewards.city))
    listing = steward_client.get(reverse("exchange_tracker:objections"))
    assert listing.status_code == 200 and "Resident" in listing.content.decode()
    other_client = login_verified(client.__class__(), stewards.other)
    assert other_client.get(reverse("exchange_tracker:objections")).context["rows"] == []
    detail = reverse("exchange_tracker:objection", args=[objection.pk])
    assert other_client.get(detail).status_code == 404
    assert other_client.post(detail, {"answer": "No."}).status_code == 404

    r = steward_client.post(detail, {"answer": ""})
    assert r.status_code == 400
    r = steward_client.post(detail, {"answer": "Cổng đã tra cứu theo hồ sơ số HN-1; xin lỗi."})
    assert r.status_code == 302
    objection.refresh_from_db()
    assert objection.status == "answered" and objection.answered_by == stewards.city
    note = Notification.objects.filter(user=resident).latest("pk")
    assert "HN-1" in note.body
    # Answered once only.
    steward_client.post(detail, {"answer": "Again"})
    objection.refresh_from_db()
    assert objection.answer.startswith("Cổng đã tra cứu")

    # The citizen sees the answer next to the access.
    page = client.get(reverse("exchange_tracker:index")).content.decode()
    assert "Cổng đã tra cứu" in page


def test_a_citizen_cannot_object_to_anothers_access(
    client: Any, topology: Any, resident: Any, other: Any
) -> None:
    access = fetch_person(other.personal_id)
    message = Message.objects.get(side="client", message_id=access.message_id)
    client.force_login(resident)
    url = reverse("exchange_tracker:object", args=[message.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"text": "Not mine"}).status_code == 404
    assert not Objection.objects.exists()


def test_a_member_without_agency_sends_objections_to_the_city_committee(
    node_key: Any, make_agency: Any, resident: Any
) -> None:
    from thudo.exchange.tracker import objection_file

    exchange_topology(portal_agency=None)
    committee = make_agency("HN", kind="city_committee", name="Ủy ban nhân dân thành phố")
    access = fetch_person(resident.personal_id)
    message = Message.objects.get(side="client", message_id=access.message_id)
    objection = objection_file(user=resident, message=message, text="Why?")
    assert objection.agency == committee


def test_the_objections_pages_need_the_exchange_permission(
    client: Any, topology: Any, make_official: Any, city_agency: Any
) -> None:
    clerk = make_official("receiving_officer", city_agency, username="clerk")
    login_verified(client, clerk)
    assert client.get(reverse("exchange_tracker:objections")).status_code == 403
