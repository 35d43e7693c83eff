"""Test data for the feedback domain: the city's units and officials, categories, real photos
(with GPS EXIF written by Pillow) and videos, and reports made through the services.

Fixtures are defined here and imported by the test modules that use them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from thudo.accounts.roles import Role
from thudo.feedback.models import Category, Report

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
# A Monday in an ordinary week (no holiday nearby), in office hours.
MONDAY_10 = datetime(2026, 6, 15, 10, 0, tzinfo=HCM)
# Phường Hoàn Kiếm, by the lake.
HK_LAT, HK_LNG = 21.0285, 105.8524

EXIF_ORIENTATION = 0x0112
EXIF_MAKE = 0x010F
EXIF_GPS = 0x8825


def _dms(value: float) -> tuple[Any, Any, Any]:
    from PIL.TiffImagePlugin import IFDRational

    value = abs(value)
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    seconds = round((minutes_float - minutes) * 60 * 1000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 1000)


def exif_bytes(
    *, gps: tuple[float, float] | None = None, orientation: int | None = None, make: str = ""
) -> bytes:
    """An EXIF block (as a phone writes it): GPS as degrees/minutes/seconds with N/S/E/W."""
    from PIL import Image

    exif = Image.Exif()
    if orientation:
        exif[EXIF_ORIENTATION] = orientation
    if make:
        exif[EXIF_MAKE] = make
    if gps is not None:
        lat, lng = gps
        exif[EXIF_GPS] = {
            1: "N" if lat >= 0 else "S",
            2: _dms(lat),
            3: "E" if lng >= 0 else "W",
            4: _dms(lng),
        }
    return exif.tobytes()


def image_bytes(
    fmt: str = "JPEG",
    *,
    size: tuple[int, int] = (64, 48),
    color: tuple[int, int, int] = (200, 30, 30),
    gps: tuple[float, float] | None = None,
    orientation: int | None = None,
    make: str = "",
    mode: str = "RGB",
) -> bytes:
    """A real photo in `fmt` (JPEG, PNG, WEBP), with EXIF when asked."""
    from PIL import Image

    image = Image.new(mode, size, color if mode == "RGB" else 128)
    options: dict[str, Any] = {}
    if gps is not None or orientation or make:
        options["exif"] = exif_bytes(gps=gps, orientation=orientation, make=make)
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def mp4_bytes(size: int = 2048) -> bytes:
    """The start of an MP4 file: an ftyp box, then filler."""
    head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    return head + b"\x00" * max(0, size - len(head))


def webm_bytes(size: int = 2048) -> bytes:
    head = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"
    return head + b"\x00" * max(0, size - len(head))


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type or "application/octet-stream")


def photo(name: str = "photo.jpg", **kwargs: Any) -> SimpleUploadedFile:
    return upload(image_bytes("JPEG", **kwargs), name, "image/jpeg")


def make_category(
    code: str = "pothole",
    *,
    name: str = "",
    handler: str = Category.Handler.COMMUNE,
    department: Any = None,
    **kwargs: Any,
) -> Category:
    return Category.objects.create(
        code=code,
        name=name or f"Danh mục {code}",
        name_en=code.replace("-", " ").title(),
        handler=handler,
        department=department,
        **kwargs,
    )


def submit(
    fb: Any,
    *,
    reporter: Any = None,
    category: Category | None = None,
    now: datetime = MONDAY_10,
    media: Sequence[Any] | None = None,
    latitude: float | None = HK_LAT,
    longitude: float | None = HK_LNG,
    description: str = "Ổ gà lớn trước số 12 phố Hàng Bài.",
    **kwargs: Any,
) -> Report:
    """A report made through the service (a real photo by default)."""
    from thudo.feedback import services

    return services.report_submit(
        reporter=reporter if reporter is not None else fb.resident,
        category=category or fb.pothole,
        description=description,
        latitude=latitude,
        longitude=longitude,
        media=[photo()] if media is None else media,
        now=now,
        **kwargs,
    )


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def fb(make_agency: Any, make_official: Any, ward: Any, hanoi: Any, citizen: Any) -> Any:
    """The city committee HN, the ward Hoàn Kiếm's committee, a department, another ward's
    committee, their officials, a moderator, two residents and three categories. The ward has a
    centre (no boundaries), so a point by the lake resolves to it (not exactly)."""
    from datetime import date

    from thudo.accounts import services as accounts
    from thudo.core.models import AdminUnit

    ward.latitude, ward.longitude = HK_LAT, HK_LNG
    ward.save(update_fields=["latitude", "longitude"])
    other_unit = (
        AdminUnit.objects.filter(parent=hanoi).exclude(code=ward.code).order_by("code").first()
    )
    assert other_unit is not None
    city = make_agency("HN", kind="city_committee", name="UBND thành phố Hà Nội")
    ward_agency = make_agency(
        f"HN-{ward.code}", unit=ward, parent=city, name="UBND phường Hoàn Kiếm"
    )
    other_ward = make_agency(
        f"HN-{other_unit.code}", unit=other_unit, parent=city, name=f"UBND {other_unit.name}"
    )
    department = make_agency("HN-SXD", kind="department", parent=city, name="Sở Xây dựng Hà Nội")
    citizen.email = "an@example.vn"
    citizen.home_unit = ward
    citizen.save(update_fields=["email", "home_unit"])
    neighbour = accounts.citizen_create(
        personal_id="001195000111",
        full_name="Trần Thị Bình",
        sex="female",
        birth_date=date(1995, 2, 3),
        password="citizen-pass-2",
    )
    neighbour.email = "binh@example.vn"
    neighbour.save(update_fields=["email"])
    ns = SimpleNamespace(
        hanoi=hanoi,
        ward=ward,
        other_unit=other_unit,
        city=city,
        ward_agency=ward_agency,
        other_ward=other_ward,
        department=department,
        resident=citizen,
        neighbour=neighbour,
        ward_officer=make_official(Role.PROCESSING_OFFICER, ward_agency, username="canbo.phuong"),
        ward_leader=make_official(Role.APPROVER, ward_agency, username="lanhdao.phuong"),
        other_officer=make_official(
            Role.PROCESSING_OFFICER, other_ward, username="canbo.phuongkhac"
        ),
        dept_officer=make_official(Role.PROCESSING_OFFICER, department, username="canbo.so"),
        dept_leader=make_official(Role.APPROVER, department, username="lanhdao.so"),
        city_leader=make_official(Role.APPROVER, city, username="lanhdao.thanhpho"),
        moderator=make_official(Role.COMMUNICATIONS_OFFICER, city, username="truyenthong"),
        pothole=make_category("pothole", department=department),
        lighting=make_category(
            "lighting", handler=Category.Handler.DEPARTMENT, department=department
        ),
        fire=make_category("fire", redirect_phone="114"),
    )
    for user in (ns.ward_officer, ns.ward_leader, ns.dept_leader, ns.city_leader):
        user.email = f"{user.username}@hanoi.gov.vn"
        user.save(update_fields=["email"])
    return ns
