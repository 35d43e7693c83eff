"""The demo city's people and agencies: Hanoi's departments and 126 ward/commune committees,
officials for every role (known demo passwords and authenticator keys), 1,000 citizens."""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from thudo.core.models import AdminUnit

from .models import Agency, Membership, User
from .personal_id import make_personal_id
from .roles import Role

DEMO_PASSWORD = "thudo-demo-2026"  # noqa: S105 — published demo credential
CITIZENS = 1000

DEPARTMENTS = [
    ("STP", "Sở Tư pháp", "Department of Justice"),
    ("SXD", "Sở Xây dựng", "Department of Construction"),
    ("SNNMT", "Sở Nông nghiệp và Môi trường", "Department of Agriculture and Environment"),
    ("SYT", "Sở Y tế", "Department of Health"),
    ("SKHCN", "Sở Khoa học và Công nghệ", "Department of Science and Technology"),
    ("STC", "Sở Tài chính", "Department of Finance"),
    ("SCT", "Sở Công Thương", "Department of Industry and Trade"),
    ("SGDDT", "Sở Giáo dục và Đào tạo", "Department of Education and Training"),
    ("SNV", "Sở Nội vụ", "Department of Home Affairs"),
    ("SVHTT", "Sở Văn hóa và Thể thao", "Department of Culture and Sports"),
]

SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đinh",
    "Trịnh",
    "Mai",
    "Tạ",
]
MIDDLE = {
    "male": ["Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Xuân", "Công"],
    "female": ["Thị", "Thu", "Ngọc", "Thanh", "Phương", "Minh", "Khánh", "Bảo"],
}
GIVEN = {
    "male": [
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Hải",
        "Hiếu",
        "Hoàng",
        "Hùng",
        "Khánh",
        "Long",
        "Nam",
        "Phong",
        "Quân",
        "Sơn",
        "Thắng",
        "Trung",
        "Tuấn",
        "Việt",
        "Đạt",
        "Huy",
    ],
    "female": [
        "Anh",
        "Chi",
        "Dung",
        "Hà",
        "Hạnh",
        "Hoa",
        "Hương",
        "Lan",
        "Linh",
        "Mai",
        "Ngân",
        "Nhung",
        "Oanh",
        "Phương",
        "Quỳnh",
        "Thảo",
        "Trang",
        "Vy",
        "Yến",
        "Giang",
    ],
}

# (username, full name, role, agency code or "ward" for Hoàn Kiếm's committee)
OFFICIALS = [
    ("tiepnhan.hoankiem", "Nguyễn Thu Hà", Role.RECEIVING_OFFICER, "ward"),
    ("xuly.hoankiem", "Trần Minh Đức", Role.PROCESSING_OFFICER, "ward"),
    ("pheduyet.hoankiem", "Lê Văn Hùng", Role.APPROVER, "ward"),
    ("quantri.hoankiem", "Phạm Ngọc Lan", Role.AGENCY_ADMIN, "ward"),
    ("tiepnhan.stp", "Vũ Thanh Hương", Role.RECEIVING_OFFICER, "HN-STP"),
    ("xuly.stp", "Đặng Quang Huy", Role.PROCESSING_OFFICER, "HN-STP"),
    ("pheduyet.stp", "Bùi Xuân Sơn", Role.APPROVER, "HN-STP"),
    ("giamsat.thanhpho", "Hoàng Phương Mai", Role.MONITORING_OFFICER, "HN"),
    ("lanhdao.thanhpho", "Đỗ Công Thắng", Role.APPROVER, "HN"),
    ("kiemtoan.thanhpho", "Ngô Bảo Anh", Role.AUDITOR, "HN"),
]
DEMO_WARD = "00070"  # Phường Hoàn Kiếm


def demo_totp_key(username: str) -> str:
    """A fixed, published authenticator key per demo account (hex, 20 bytes)."""
    return hashlib.sha1(f"thudo-demo:{username}".encode()).hexdigest()  # noqa: S324


def _agencies(city: AdminUnit) -> dict[str, Agency]:
    by_code = {a.code: a for a in Agency.objects.all()}

    def ensure(code: str, **values: Any) -> Agency:
        if code not in by_code:
            by_code[code] = Agency.objects.create(code=code, **values)
        return by_code[code]

    committee = ensure(
        "HN",
        name="Ủy ban nhân dân thành phố Hà Nội",
        name_en="Hanoi People's Committee",
        kind=Agency.Kind.CITY_COMMITTEE,
        admin_unit=city,
    )
    ensure(
        "HN-TTPVHCC",
        name="Trung tâm Phục vụ hành chính công thành phố Hà Nội",
        name_en="Hanoi Public Administration Service Centre",
        kind=Agency.Kind.ONE_STOP_CENTRE,
        admin_unit=city,
        parent=committee,
    )
    for code, name, name_en in DEPARTMENTS:
        ensure(
            f"HN-{code}",
            name=name,
            name_en=name_en,
            kind=Agency.Kind.DEPARTMENT,
            admin_unit=city,
            parent=committee,
        )
    new = [
        Agency(
            code=f"HN-{w.code}",
            name=f"Ủy ban nhân dân {w.name}",
            name_en=f"People's Committee of {w.name}",
            kind=Agency.Kind.COMMUNE_COMMITTEE,
            admin_unit=w,
            parent=committee,
        )
        for w in AdminUnit.objects.filter(parent=city).order_by("code")
        if f"HN-{w.code}" not in by_code
    ]
    for agency in Agency.objects.bulk_create(new):
        by_code[agency.code] = agency
    return by_code


def _officials(agencies: dict[str, Agency], password_hash: str) -> list[str]:
    made = []
    for username, full_name, role, where in OFFICIALS:
        agency = agencies[f"HN-{DEMO_WARD}" if where == "ward" else where]
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "full_name": full_name,
                "kind": User.Kind.OFFICIAL,
                "password": password_hash,
                "email": f"{username}@demo.thudo.vn",
            },
        )
        Membership.objects.get_or_create(user=user, agency=agency, role=role)
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            TOTPDevice.objects.create(
                user=user, name="demo", confirmed=True, key=demo_totp_key(username)
            )
        if created:
            made.append(username)
    admin, created = User.objects.get_or_create(
        username="admin",
        defaults={
            "full_name": "Quản trị hệ thống",
            "kind": User.Kind.OFFICIAL,
            "is_staff": True,
            "is_superuser": True,
            "password": password_hash,
            "email": "admin@demo.thudo.vn",
        },
    )
    if not TOTPDevice.objects.filter(user=admin, confirmed=True).exists():
        TOTPDevice.objects.create(
            user=admin, name="demo", confirmed=True, key=demo_totp_key("admin")
        )
    return made


def _citizens(city: AdminUnit, password_hash: str) -> int:
    have = User.objects.filter(kind=User.Kind.CITIZEN).count()
    if have >= CITIZENS:
        return 0
    rng = random.Random(18)  # noqa: S311 — reproducible demo data
    wards = list(AdminUnit.objects.filter(parent=city).order_by("code"))
    taken = set(User.objects.exclude(personal_id=None).values_list("personal_id", flat=True))
    people: list[User] = []
    while len(people) < CITIZENS - have:
        sex = rng.choice(["male", "female"])
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 57))
        number = make_personal_id(province="001", sex=sex, birth_year=born.year, rng=rng)
        if number in taken:
            continue
        taken.add(number)
        name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
        people.append(
            User(
                username=number,
                personal_id=number,
                full_name=name,
                sex=sex,
                birth_date=born,
                kind=User.Kind.CITIZEN,
                password=password_hash,
                home_unit=rng.choice(wards),
                phone=f"09{rng.randrange(10**8):08d}",
            )
        )
    User.objects.bulk_create(people, batch_size=500)
    return len(people)


@transaction.atomic
def demo_load(stdout: Any = None) -> None:
    city_code = f"{settings.THUDO_CITY['PROVINCE_CODE']:02d}"
    city = AdminUnit.objects.get(code=city_code)
    password_hash = make_password(DEMO_PASSWORD)
    agencies = _agencies(city)
    officials = _officials(agencies, password_hash)
    citizens = _citizens(city, password_hash)
    if stdout:
        stdout.write(
            f"  agencies: {len(agencies)}; new officials: {len(officials)}; "
            f"new citizens: {citizens}"
        )


def demo_citizen_sample(n: int = 2) -> list[User]:
    return list(User.objects.filter(kind=User.Kind.CITIZEN).order_by("id")[:n])
