"""The operator's pages at /workspace/transit/: who may open them, the control view and its JSON,
vehicles and devices (tokens shown once), service alerts, timetables (the upload's type and size
checks, the importer's errors per file and row, switching a version on), the menu entry and the
demo operator."""

from __future__ import annotations

import io
import sys
import types
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

import thudo.transit
from thudo.accounts.models import Membership, User
from thudo.accounts.roles import ROLE_PERMISSIONS, Perm, Role
from thudo.accounts.testing import login_verified
from thudo.core.errors import InvalidTransition, ThudoError
from thudo.core.models import AuditEvent
from thudo.transit import devices
from thudo.transit.menus_official import OFFICIAL_MENU
from thudo.transit.models import Device, Feed, ServiceAlert, Vehicle, VehicleState
from thudo.transit.tokens import hash_token

from .test_operations import build_feed, bus

pytestmark = pytest.mark.django_db

CONTROL = "/workspace/transit/"


@pytest.fixture
def sxd(make_agency: Any) -> Any:
    return make_agency("HN-SXD", kind="department", name="Sở Xây dựng")


@pytest.fixture
def operator(sxd: Any, make_official: Any) -> Any:
    return make_official(Role.TRANSIT_OPERATOR, sxd, username="dieuhanh")


def signed_in(client: Any, user: Any) -> Any:
    login_verified(client, user)
    client.cookies["thudo_language"] = "en"
    return client


def file_error(response: Any) -> str:
    """The upload field's first error in English (the middleware deactivates the request's
    language afterwards, so lazy messages would render in the default, Vietnamese)."""
    from django.utils import translation

    with translation.override("en"):
        return str(response.context["form"].errors["file"][0])


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def upload(name: str, content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/zip")


# --- access ----------------------------------------------------------------------------------


PAGES = [
    CONTROL,
    "/workspace/transit/control.json",
    "/workspace/transit/vehicles/",
    "/workspace/transit/alerts/",
    "/workspace/transit/timetables/",
]


def test_who_may_open_the_pages(
    client: Any, operator: Any, sxd: Any, make_official: Any, citizen: Any
) -> None:
    assert client.get(CONTROL).status_code == 302  # to the sign-in page
    signed_in(client, citizen)
    assert client.get(CONTROL).status_code == 403
    signed_in(client, make_official(Role.AUDITOR, sxd))
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    assert client.post(reverse("transit_official:vehicle_create"), {"code": "X"}).status_code == 403
    assert not Vehicle.objects.exists()
    # an operator who has not confirmed the second factor is refused too
    client.logout()
    client.force_login(operator)
    assert client.get(CONTROL).status_code == 403
    signed_in(client, operator)
    for page in PAGES:
        assert client.get(page).status_code == 200, page


def test_menu_entry_and_role() -> None:
    (entry,) = OFFICIAL_MENU
    assert entry.url_name == "transit_official:control" and entry.audience == "official"
    assert entry.permission == Perm.TRANSIT_OPERATE
    assert Perm.TRANSIT_OPERATE in ROLE_PERMISSIONS[Role.TRANSIT_OPERATOR]
    assert reverse(entry.url_name) == CONTROL


# --- the control view ------------------------------------------------------------------------


def test_control_view_and_json(client: Any, operator: Any) -> None:
    build_feed()
    now = timezone.now()
    a = Vehicle.objects.create(code="HN-A", label="A-01", license_plate="29B-111.11")
    VehicleState.objects.create(
        vehicle=a,
        recorded_at=now - timedelta(seconds=5),
        lat=21.02,
        lon=105.81,
        status="in_service",
        trip_id="R1-T5",
        route_id="R1",
        direction_id=0,
        dist_m=1500,
        deviation_s=420,
    )
    silent = Vehicle.objects.create(code="HN-S")
    Device.objects.create(vehicle=silent, device_id="GPS-SILENT", token_hash="x")
    signed_in(client, operator)
    response = client.get(CONTROL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="transit-control-config"' in html and "transit/control.js" in html
    assert "A-01" in html and "GPS-SILENT" in html  # late bus and silent device in the tables
    assert reverse("transit_official:vehicle", args=[a.pk]) in html
    assert "Pause updates" in html and 'aria-pressed="false"' in html
    snap = response.context["snap"]
    assert [v["code"] for v in snap["late"]] == ["HN-A"]

    data = client.get(reverse("transit_official:control_json")).json()
    assert response["Cache-Control"].startswith("max-age=0")
    packed = client.get(reverse("transit_official:control_json"), HTTP_ACCEPT_ENCODING="gzip")
    assert packed["Content-Encoding"] == "gzip" or len(packed.content) < 200
    assert data["counts"]["late"] == 1 and data["vehicles"][0]["lat"] == 21.02
    assert data["silent_devices"][0]["device_id"] == "GPS-SILENT"
    assert {"routes", "bunching", "ghosts", "rejects", "generated_at"} <= set(data)


def test_control_view_query_count(
    client: Any, operator: Any, django_assert_max_num_queries: Any
) -> None:
    build_feed()
    for i in range(20):
        v = bus(f"HN-{i}", trip=f"R1-T{i % 10}", dist=100.0 * i)
        v.state.recorded_at = timezone.now()
        v.state.save()
        Device.objects.create(vehicle=v, device_id=f"GPS-{i}", token_hash="x")
    signed_in(client, operator)
    client.get(CONTROL)  # warm the session and permission caches
    with django_assert_max_num_queries(30):
        assert client.get(CONTROL).status_code == 200
    with django_assert_max_num_queries(25):
        assert client.get(reverse("transit_official:control_json")).status_code == 200


# --- vehicles and devices --------------------------------------------------------------------


def test_register_a_vehicle_and_a_device(client: Any, operator: Any) -> None:
    signed_in(client, operator)
    response = client.post(
        reverse("transit_official:vehicle_create"),
        {"code": "HN-B01", "label": "B01", "license_plate": "29B-123.45", "operator": "Transerco"},
    )
    vehicle = Vehicle.objects.get(code="HN-B01")
    assert response.status_code == 302
    assert response["Location"] == reverse("transit_official:vehicle", args=[vehicle.pk])

    response = client.post(
        reverse("transit_official:device_register", args=[vehicle.pk]), {"device_id": "GPS-B01"}
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    token = response.context["new_token"]
    device = Device.objects.get(device_id="GPS-B01")
    assert device.token_hash == hash_token(token) and device.vehicle == vehicle
    assert token in response.content.decode()
    page = client.get(reverse("transit_official:vehicle", args=[vehicle.pk])).content.decode()
    assert token not in page and "GPS-B01" in page and device.token_hint in page  # shown once

    response = client.post(reverse("transit_official:device_rotate", args=[device.pk]))
    new = response.context["new_token"]
    device.refresh_from_db()
    assert (
        new != token and device.token_hash == hash_token(new) and new in response.content.decode()
    )

    response = client.post(reverse("transit_official:device_deactivate", args=[device.pk]))
    assert response.status_code == 302
    device.refresh_from_db()
    assert not device.is_active
    response = client.post(
        reverse("transit_official:device_deactivate", args=[device.pk]), follow=True
    )
    assert "already switched off" in response.content.decode()
    assert AuditEvent.objects.filter(action="transit.device.deactivate").count() == 1


def test_vehicle_form_errors(client: Any, operator: Any) -> None:
    Vehicle.objects.create(code="HN-B01")
    signed_in(client, operator)
    response = client.post(reverse("transit_official:vehicle_create"), {"code": "hn-b01"})
    assert response.status_code == 422
    form = response.context["create_form"]
    assert "already registered" in form.errors["code"][0]
    response = client.post(reverse("transit_official:vehicle_create"), {"code": "HN B02"})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'role="alert"' in html and 'href="#id_code"' in html and "letters, digits" in html
    vehicle = Vehicle.objects.get(code="HN-B01")
    Device.objects.create(vehicle=vehicle, device_id="GPS-1", token_hash="x")
    response = client.post(
        reverse("transit_official:device_register", args=[vehicle.pk]), {"device_id": "gps-1"}
    )
    assert response.status_code == 422
    assert "already registered" in response.context["form"].errors["device_id"][0]


def test_vehicle_list_search_and_counters(client: Any, operator: Any) -> None:
    from thudo.transit.models import IngestCounter

    quiet = devices.vehicle_create(actor=None, code="HN-QUIET")
    devices.device_register(actor=None, vehicle=quiet, device_id="GPS-QUIET")
    noisy = devices.vehicle_create(actor=None, code="HN-NOISY", license_plate="29B-999.99")
    device, _token = devices.device_register(actor=None, vehicle=noisy, device_id="GPS-NOISY")
    Device.objects.filter(pk=device.pk).update(last_seen_at=timezone.now())
    devices.vehicle_create(actor=None, code="HN-BARE")
    IngestCounter.objects.create(device_key="GPS-NOISY", outcome="accepted", count=40)
    IngestCounter.objects.create(device_key="GPS-NOISY", outcome="bad_coordinates", count=3)
    IngestCounter.objects.create(device_key="GPS-GHOST", outcome="bad_token", count=8)
    signed_in(client, operator)
    url = reverse("transit_official:vehicles")

    def codes(query: dict[str, str]) -> list[str]:
        return [v.code for v in client.get(url, query).context["rows"]]

    assert codes({}) == ["HN-BARE", "HN-NOISY", "HN-QUIET"]
    assert codes({"q": "999"}) == ["HN-NOISY"]
    assert codes({"q": "gps-quiet"}) == ["HN-QUIET"]
    assert codes({"status": "none"}) == ["HN-BARE"]
    assert codes({"status": "silent"}) == ["HN-QUIET"]
    assert codes({"status": "rejected"}) == ["HN-NOISY"]
    response = client.get(url)
    unknown = response.context["unknown"]
    assert [(r["device_key"], r["rejected"]) for r in unknown] == [("GPS-GHOST", 8)]
    html = response.content.decode()
    assert "GPS-GHOST" in html and "wrong or revoked token: 8" in html
    page = client.get(reverse("transit_official:vehicle", args=[noisy.pk])).content.decode()
    assert "impossible position: 3" in page and ">40<" in page


# --- service alerts --------------------------------------------------------------------------


def test_publish_and_end_an_alert(client: Any, operator: Any) -> None:
    build_feed()
    signed_in(client, operator)
    page = client.get(reverse("transit_official:alerts"))
    assert [c[0] for c in page.context["form"].fields["route_ids"].choices] == ["R2", "R1"]
    response = client.post(
        reverse("transit_official:alert_create"),
        {
            "header": "Tuyến 32 đi vòng do thi công",
            "header_en": "Route 32 detoured",
            "cause": "CONSTRUCTION",
            "effect": "DETOUR",
            "severity": "WARNING",
            "route_ids": ["R1"],
            "stop_ids": "S1, S2",
            "active_until": (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    alert = ServiceAlert.objects.get()
    assert alert.route_ids == ["R1"] and alert.stop_ids == ["S1", "S2"]
    assert alert.created_by == operator
    page = client.get(reverse("transit_official:alerts"))
    assert [a.pk for a in page.context["in_force"]] == [alert.pk]
    assert "Tuyến 32 đi vòng do thi công" in page.content.decode()

    response = client.post(reverse("transit_official:alert_end", args=[alert.pk]))
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.ended_at is not None
    page = client.get(reverse("transit_official:alerts"))
    assert page.context["in_force"] == [] and [a.pk for a in page.context["ended"]] == [alert.pk]


def test_alert_errors_on_their_fields(client: Any, operator: Any) -> None:
    build_feed()
    signed_in(client, operator)
    response = client.post(
        reverse("transit_official:alert_create"),
        {
            "header": "",
            "cause": "CONSTRUCTION",
            "effect": "DETOUR",
            "severity": "WARNING",
            "stop_ids": "S1 NOPE",
        },
    )
    assert response.status_code == 422
    assert "header" in response.context["form"].errors
    response = client.post(
        reverse("transit_official:alert_create"),
        {"header": "Thử", "cause": "CONSTRUCTION", "effect": "DETOUR", "severity": "WARNING",
         "stop_ids": "S1 NOPE"},
    )  # fmt: skip
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "NOPE" in errors["stop_ids"][0] and "S1," not in errors["stop_ids"][0]
    assert not ServiceAlert.objects.exists()


# --- timetables ------------------------------------------------------------------------------


class FakeInvalid(ThudoError):
    code = "gtfs_invalid"

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("The GTFS feed is not valid.")
        self.errors = errors


@pytest.fixture
def fake_gtfs(monkeypatch: Any) -> Any:
    """H1's importer replaced by a recorder (its own tests are test_gtfs.py)."""
    module = types.ModuleType("thudo.transit.gtfs")
    module.calls = []  # type: ignore[attr-defined]
    module.GtfsInvalid = FakeInvalid  # type: ignore[attr-defined]
    module.outcome = None  # type: ignore[attr-defined]

    def import_feed(*, source: Any, name: str, actor: Any = None, activate: bool = True,
                    progress: Any = None) -> Feed:  # fmt: skip
        content = source.read()
        module.calls.append({"source": content, "file": source.name, "name": name,
                             "actor": actor, "activate": activate})  # type: ignore[attr-defined]  # fmt: skip
        if module.outcome is not None:  # type: ignore[attr-defined]
            Feed.objects.create(name=name, version=9, status=Feed.Status.FAILED,
                                errors=module.outcome)  # type: ignore[attr-defined]  # fmt: skip
            raise FakeInvalid(module.outcome)  # type: ignore[attr-defined]
        status = Feed.Status.ACTIVE if activate else Feed.Status.READY
        return Feed.objects.create(name=name, version=7, status=status, counts={"routes.txt": 2})

    def feed_activate(*, feed: Feed, actor: Any = None) -> Feed:
        module.calls.append({"activate": feed.pk, "actor": actor})  # type: ignore[attr-defined]
        if feed.name == "broken":
            raise InvalidTransition("Cannot switch on.")
        Feed.objects.filter(pk=feed.pk).update(status=Feed.Status.ACTIVE)
        return feed

    module.import_feed = import_feed  # type: ignore[attr-defined]
    module.feed_activate = feed_activate  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "thudo.transit.gtfs", module)
    monkeypatch.setattr(thudo.transit, "gtfs", module, raising=False)
    return module


def post_upload(client: Any, name: str, content: bytes, **extra: Any) -> Any:
    data = {"name": "Hà Nội tháng 6", "file": upload(name, content), **extra}
    return client.post(reverse("transit_official:timetable_upload"), data)


def test_upload_checks_type_and_size(
    client: Any, operator: Any, fake_gtfs: Any, settings: Any
) -> None:
    from django.utils import translation

    with translation.override("en"):  # the messages asserted below are the English ones
        signed_in(client, operator)
        response = post_upload(client, "feed.txt", zip_bytes({"agency.txt": "x"}))
        assert response.status_code == 422
        assert "ends in .zip" in file_error(response)
        response = post_upload(client, "feed.zip", b"agency_id,agency_name\n1,Transerco\n")
        assert response.status_code == 422
        assert "not a zip archive" in file_error(response)
        response = post_upload(client, "feed.zip", b"")
        assert response.status_code == 422 and "file" in response.context["form"].errors
        settings.TRANSIT_GTFS_MAX_BYTES = 1024
        response = post_upload(
            client, "feed.zip", zip_bytes({"stops.txt": "x" * 5000}) + b"\0" * 2048
        )
        assert response.status_code == 422
        message = file_error(response)
        assert "MB: the limit is" in message
        html = response.content.decode()
        assert 'href="#id_file"' in html and 'role="alert"' in html
        assert fake_gtfs.calls == []  # the importer never saw a refused file


def test_upload_lists_the_importers_errors(client: Any, operator: Any, fake_gtfs: Any) -> None:
    fake_gtfs.outcome = [
        {"file": "stops.txt", "row": 3, "field": "stop_lat", "code": "range",
         "message": "The latitude must be between -90 and 90."},
        {"file": "trips.txt", "row": 2, "field": "route_id", "code": "unknown",
         "message": "No route has this id."},
    ]  # fmt: skip
    signed_in(client, operator)
    response = post_upload(client, "feed.zip", zip_bytes({"agency.txt": "agency_id\n1\n"}))
    assert response.status_code == 422
    html = response.content.decode()
    assert "2 errors" in html and "stops.txt" in html and "stop_lat" in html
    assert "The latitude must be between -90 and 90." in html and "No route has this id." in html
    failed = Feed.objects.get(status=Feed.Status.FAILED)
    assert response.context["failed_feed"] == failed
    assert reverse("transit_official:feed", args=[failed.pk]) in html
    page = client.get(reverse("transit_official:feed", args=[failed.pk]))
    assert page.context["error_count"] == 2 and "No route has this id." in page.content.decode()


def test_upload_imports_and_switches_on(client: Any, operator: Any, fake_gtfs: Any) -> None:
    signed_in(client, operator)
    content = zip_bytes({"agency.txt": "agency_id\n1\n"})
    response = post_upload(client, "feed.zip", content, activate="on")
    feed = Feed.objects.get(version=7)
    assert response.status_code == 302
    assert response["Location"] == reverse("transit_official:feed", args=[feed.pk])
    call = fake_gtfs.calls[0]
    assert call["name"] == "Hà Nội tháng 6" and call["activate"] is True
    assert call["actor"] == operator and call["source"] == content and call["file"] == "feed.zip"
    page = client.get(response["Location"])
    assert "switched on" in page.content.decode() and not page.context["can_activate"]


def test_switch_a_ready_version_on(client: Any, operator: Any, fake_gtfs: Any) -> None:
    signed_in(client, operator)
    post_upload(client, "feed.zip", zip_bytes({"agency.txt": "x"}))  # activate unticked
    feed = Feed.objects.get(version=7)
    assert feed.status == Feed.Status.READY
    page = client.get(reverse("transit_official:feed", args=[feed.pk]))
    assert page.context["can_activate"]
    response = client.post(reverse("transit_official:feed_activate", args=[feed.pk]))
    assert response.status_code == 302
    feed.refresh_from_db()
    assert feed.status == Feed.Status.ACTIVE
    assert fake_gtfs.calls[-1] == {"activate": feed.pk, "actor": operator}
    # an active (or failed) version is not switched on again
    response = client.post(reverse("transit_official:feed_activate", args=[feed.pk]), follow=True)
    assert "Only a version that is ready" in response.content.decode()
    # a replaced version without its timetable rows neither
    gone = Feed.objects.create(name="gone", version=6, status=Feed.Status.REPLACED)
    assert not client.get(reverse("transit_official:feed", args=[gone.pk])).context["can_activate"]
    # one that still has its timetable can be switched on again (going back to it)
    Feed.objects.filter(status=Feed.Status.ACTIVE).update(status=Feed.Status.REPLACED)
    kept = build_feed()
    Feed.objects.filter(pk=kept.pk).update(status=Feed.Status.REPLACED)
    assert client.get(reverse("transit_official:feed", args=[kept.pk])).context["can_activate"]
    broken = Feed.objects.create(name="broken", version=8, status=Feed.Status.READY)
    response = client.post(reverse("transit_official:feed_activate", args=[broken.pk]), follow=True)
    assert "Cannot switch on." in response.content.decode()


def test_timetables_list(client: Any, operator: Any) -> None:
    Feed.objects.create(name="Cũ", version=1, status=Feed.Status.REPLACED,
                        counts={"stops.txt": 10, "routes.txt": 2})  # fmt: skip
    Feed.objects.create(name="Mới", version=2, status=Feed.Status.ACTIVE,
                        warnings=[{"file": "stops.txt", "row": 4, "field": "", "code": "far",
                                   "message": "far"}])  # fmt: skip
    signed_in(client, operator)
    response = client.get(reverse("transit_official:timetables"))
    feeds = response.context["feeds"]
    assert [f.version for f in feeds] == [2, 1]
    assert feeds[1].row_total == 12 and feeds[0].warning_count == 1
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html and 'accept=".zip,application/zip"' in html


MINIMAL_GTFS = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
    "TS,Transerco,https://transerco.vn,Asia/Ho_Chi_Minh\n",
    "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\n"
    "R32,TS,32,Giáp Bát - Nhổn,3\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\n"
    "S1,Bến xe Giáp Bát,20.9806,105.8412\nS2,Kim Liên,21.0070,105.8390\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
    "start_date,end_date\nALL,1,1,1,1,1,1,1,20260101,20261231\n",
    "trips.txt": "route_id,service_id,trip_id,direction_id\nR32,ALL,T1,0\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "T1,06:00:00,06:00:00,S1,1\nT1,06:09:00,06:09:00,S2,2\n",
}


def test_real_importer(client: Any, operator: Any) -> None:
    """With H1's importer: a valid feed goes in and is switched on."""
    pytest.importorskip("thudo.transit.gtfs")
    signed_in(client, operator)
    response = post_upload(client, "hanoi.zip", zip_bytes(MINIMAL_GTFS), activate="on")
    assert response.status_code == 302, response.context and response.context.get("import_errors")
    feed = Feed.objects.get(status=Feed.Status.ACTIVE)
    assert feed.source_name == "hanoi.zip" and feed.imported_by == operator
    page = client.get(response["Location"])
    assert "stop_times.txt" in page.content.decode()


def test_real_importer_errors_are_listed(client: Any, operator: Any) -> None:
    """With H1's importer: a broken feed is refused and its errors are listed by file."""
    pytest.importorskip("thudo.transit.gtfs")
    signed_in(client, operator)
    content = zip_bytes({"agency.txt": "agency_id,agency_name\nA,Transerco\n"})  # most missing
    response = post_upload(client, "feed.zip", content)
    assert response.status_code == 422
    assert response.context["import_error_count"] >= 1
    assert not Feed.objects.filter(status=Feed.Status.ACTIVE).exists()


# --- the demo operator -----------------------------------------------------------------------


def test_demo_operator_and_alert(sxd: Any) -> None:
    from thudo.transit.demo_official import USERNAME, demo_load

    build_feed()
    out = io.StringIO()
    demo_load(stdout=out)
    demo_load(stdout=out)  # idempotent
    user = User.objects.get(username=USERNAME)
    assert Membership.objects.filter(user=user, agency=sxd, role=Role.TRANSIT_OPERATOR).count() == 1
    assert user.kind == User.Kind.OFFICIAL
    alert = ServiceAlert.objects.get()
    assert alert.route_ids == ["R1"]  # the route numbered 32
    assert alert.header.startswith("Tuyến 32") and alert.header_en.startswith("Route 32")
    assert alert.active_from <= timezone.now() < alert.active_until  # type: ignore[operator]
    assert "transit operator: dieuhanh.vantai (new)" in out.getvalue()


def test_demo_operator_without_its_agency() -> None:
    from thudo.transit.demo_official import demo_load

    out = io.StringIO()
    demo_load(stdout=out)
    assert "HN-SXD missing" in out.getvalue() and not User.objects.exists()
