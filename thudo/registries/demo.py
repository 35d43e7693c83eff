"""Demo base registries consistent with the demo citizens (accounts demo, order 20).

Every citizen account with a personal ID gets a resident in the population registry with the same
number, name, birth date and sex, living in their home ward, grouped into households of 2-5 people
(spouses, children, parents; the relatives without a portal account are extra residents with valid
numbers). Then a few hundred registered businesses (some represented by demo citizens), land
parcels (most households own their home; some rural plots; some business premises) and social
insurance records for adult citizens.

Everything comes from seeded random generators over the citizens sorted by personal ID, so two
databases loaded with the same demo hold the same registries. Loading again adds only what is
missing (residents for citizens who have none, and their households, land and insurance).
"""

from __future__ import annotations

import random
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from thudo.accounts.demo import GIVEN, MIDDLE, SURNAMES
from thudo.accounts.models import User
from thudo.accounts.personal_id import make_personal_id, parse_personal_id
from thudo.core.models import AdminUnit

from .models import Business, Household, InsuranceRecord, LandOwner, LandParcel, Person

BUSINESSES = 300
HANOI_ID = "001"
FIXED_LEVEL_2 = 10  # the first citizen accounts (by id) always have a level-2 e-ID

# Province codes of personal IDs (place of birth registration) for relatives born outside Hanoi.
ID_PROVINCES = {
    "001": "Thành phố Hà Nội",
    "022": "Tỉnh Quảng Ninh",
    "024": "Tỉnh Bắc Giang",
    "026": "Tỉnh Vĩnh Phúc",
    "027": "Tỉnh Bắc Ninh",
    "030": "Tỉnh Hải Dương",
    "031": "Thành phố Hải Phòng",
    "033": "Tỉnh Hưng Yên",
    "034": "Tỉnh Thái Bình",
    "035": "Tỉnh Hà Nam",
    "036": "Tỉnh Nam Định",
    "037": "Tỉnh Ninh Bình",
    "038": "Tỉnh Thanh Hóa",
    "040": "Tỉnh Nghệ An",
    "042": "Tỉnh Hà Tĩnh",
    "025": "Tỉnh Phú Thọ",
}
OTHER_PROVINCES = [code for code in ID_PROVINCES if code != HANOI_ID]
HOMETOWN_COMMUNES = [
    "Xã Hải Hậu",
    "Xã Giao Thủy",
    "Xã Kiến Xương",
    "Xã Tiền Hải",
    "Xã Yên Mô",
    "Xã Kim Sơn",
    "Xã Đông Sơn",
    "Xã Nghi Lộc",
    "Xã Can Lộc",
    "Xã Thanh Miện",
    "Xã Duy Tiên",
    "Xã Tiên Du",
    "Xã Lâm Thao",
    "Xã Yên Lạc",
    "Xã Kim Động",
    "Xã Thủy Nguyên",
]
ETHNICITIES = ["Kinh"] * 96 + ["Mường", "Mường", "Tày", "Dao"]

# Streets of some central wards; the others draw from GENERIC_STREETS (phường) or villages (xã).
WARD_STREETS = {
    "00070": ["Hàng Bạc", "Hàng Đào", "Hàng Gai", "Hàng Bông", "Đinh Tiên Hoàng", "Lý Thái Tổ"],
    "00073": ["Tràng Thi", "Quán Sứ", "Hai Bà Trưng", "Lý Thường Kiệt", "Trần Hưng Đạo"],
    "00004": ["Phan Đình Phùng", "Quán Thánh", "Hoàng Diệu", "Nguyễn Trường Tộ", "Hàng Bún"],
    "00008": ["Đội Cấn", "Ngọc Hà", "Hoàng Hoa Thám", "Liễu Giai", "Văn Cao"],
    "00025": ["Giảng Võ", "Kim Mã", "Nguyễn Thái Học", "Cát Linh", "Huỳnh Thúc Kháng"],
    "00097": ["Hàng Chiếu", "Trần Nhật Duật", "Phúc Tân", "Chương Dương Độ", "Hàng Mã"],
    "00103": ["Thụy Khuê", "Lạc Long Quân", "Âu Cơ", "Xuân Diệu", "Tô Ngọc Vân"],
    "00148": ["Nguyễn Văn Cừ", "Ngọc Lâm", "Long Biên", "Ngọc Thụy", "Hồng Tiến"],
    "00167": ["Cầu Giấy", "Xuân Thủy", "Trần Thái Tông", "Dịch Vọng Hậu", "Duy Tân"],
    "00187": ["Láng", "Láng Hạ", "Nguyễn Chí Thanh", "Chùa Láng", "Pháo Đài Láng"],
    "00196": ["Quốc Tử Giám", "Văn Miếu", "Tôn Đức Thắng", "Nguyễn Khuyến", "Hàng Cháo"],
    "00226": ["Kim Liên", "Đào Duy Anh", "Phạm Ngọc Thạch", "Lương Định Của", "Xã Đàn"],
    "00235": ["Tôn Đức Thắng", "Hào Nam", "Khâm Thiên", "Nguyễn Lương Bằng", "Tây Sơn"],
    "00256": ["Bà Triệu", "Lê Đại Hành", "Phố Huế", "Thái Phiên", "Lò Đúc"],
    "00277": ["Bạch Mai", "Trần Đại Nghĩa", "Minh Khai", "Giải Phóng", "Lê Thanh Nghị"],
    "00367": ["Nguyễn Trãi", "Khương Trung", "Vũ Trọng Phụng", "Lê Văn Lương", "Nguyễn Tuân"],
    "09556": ["Quang Trung", "Trần Phú", "Tô Hiệu", "Lê Trọng Tấn", "Nguyễn Viết Xuân"],
    "09574": ["Lê Lợi", "Phó Đức Chính", "Chùa Thông", "Phùng Khắc Khoan", "Quang Trung"],
}
GENERIC_STREETS = [
    "Nguyễn Văn Linh",
    "Ngô Gia Tự",
    "Nguyễn Hoàng",
    "Hồ Tùng Mậu",
    "Phạm Văn Đồng",
    "Tam Trinh",
    "Lĩnh Nam",
    "Kim Giang",
    "Nguyễn Xiển",
    "Trường Chinh",
    "Tân Mai",
    "Định Công",
    "Giáp Bát",
    "Phúc Diễn",
    "Cổ Nhuế",
    "Văn Tiến Dũng",
    "Tây Tựu",
    "Mỗ Lao",
    "Vạn Phúc",
    "Ba La",
    "Yên Lộ",
    "Phú Lãm",
    "Đại Linh",
    "Trung Văn",
    "Ngọc Thụy",
    "Đức Giang",
    "Phúc Lợi",
    "Thượng Thanh",
    "Nguyễn Sơn",
    "Hoàng Như Tiếp",
]
VILLAGES = [
    "Đông",
    "Đoài",
    "Thượng",
    "Hạ",
    "Trung",
    "Nội",
    "Ngoại",
    "Phú Mỹ",
    "Yên Thái",
    "Đại Đồng",
    "Tiên Lữ",
    "An Hạ",
    "Bình Đà",
    "Vân Hội",
    "Cao Bộ",
    "Lưu Xá",
]
FIELDS = ["Đồng Trong", "Đồng Ngoài", "Cửa Đình", "Bãi Sông", "Gò Cao", "Đồng Mạ"]

# (Vietnamese, English, VSIC industry codes)
SECTORS = [
    ("Thương mại và Dịch vụ", "Trading and Services", ["4690", "4711"]),
    ("Xây dựng", "Construction", ["4100", "4290"]),
    ("Công nghệ Thông tin", "Information Technology", ["6201", "6202"]),
    ("Thực phẩm", "Food", ["1079", "4632"]),
    ("Vận tải", "Transport", ["4933", "5229"]),
    ("Du lịch", "Travel", ["7911", "5510"]),
    ("Đầu tư và Phát triển", "Investment and Development", ["6810", "7020"]),
    ("In ấn", "Printing", ["1811"]),
    ("May mặc", "Garment", ["1410"]),
    ("Giáo dục", "Education", ["8559"]),
]
AGRI_SECTOR = ("Nông nghiệp", "Agriculture", ["0118", "0145"])
SHOPS = [("Tạp hóa", ["4711"]), ("Quán ăn", ["5610"]), ("Cà phê", ["5630"]), ("Sửa xe", ["4520"])]
BRANDS = [
    "Minh Phát",
    "Thành Công",
    "Hoàng Long",
    "An Phú",
    "Đại Việt",
    "Sao Mai",
    "Hồng Hà",
    "Thăng Long",
    "Phú Thịnh",
    "Tân Tiến",
    "Việt Hưng",
    "Bình Minh",
    "Kim Ngân",
    "Trường Sơn",
    "Hải Âu",
    "Nam Á",
    "Đông Đô",
    "Hà Thành",
    "Quốc Bảo",
    "Thiên Phúc",
    "Ngọc Lan",
    "Hưng Thịnh",
    "Tây Bắc",
    "Sông Đà",
    "Phượng Hoàng",
]
HOSPITALS = [
    "Bệnh viện Đa khoa Xanh Pôn",
    "Bệnh viện Thanh Nhàn",
    "Bệnh viện Đa khoa Đống Đa",
    "Bệnh viện Bắc Thăng Long",
    "Bệnh viện Đa khoa Hà Đông",
    "Bệnh viện Đa khoa Đức Giang",
    "Bệnh viện Đa khoa Sơn Tây",
    "Bệnh viện Đa khoa Đông Anh",
    "Bệnh viện Đa khoa Thanh Trì",
    "Bệnh viện Hữu Nghị Việt Nam - Cu Ba",
]
# Certificate serial series by the year a land-use right certificate was issued.
CERT_SERIES = [(2009, "AA"), (2011, "BA"), (2014, "BX"), (2016, "CD"), (2018, "CS"), (2021, "DA")]


def ascii_fold(text: str) -> str:
    """'Đại Việt' -> 'Dai Viet' (for English business names)."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _date_in_year(rng: random.Random, year: int, today: date) -> date:
    day = date(year, 1, 1) + timedelta(days=rng.randrange(365))
    return min(day, today - timedelta(days=30))


@dataclass
class _Member:
    person: Person
    relation: str
    citizen: bool = False


@dataclass
class _Home:
    ward: AdminUnit
    address: str
    members: list[_Member] = field(default_factory=list)
    code: str = ""

    def head(self) -> Person:
        return self.members[0].person


class _People:
    """Makes residents with unique, structurally valid personal IDs."""

    def __init__(self, rng: random.Random, taken: set[str], today: date) -> None:
        self.rng = rng
        self.taken = taken
        self.today = today

    def name(self, sex: str, surname: str | None = None) -> str:
        rng = self.rng
        return (
            f"{surname or rng.choice(SURNAMES)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
        )

    def extra(
        self,
        *,
        sex: str,
        year: int,
        surname: str | None = None,
        province: str | None = None,
        hometown: str,
        ethnicity: str,
    ) -> Person:
        rng = self.rng
        if province is None:
            province = HANOI_ID if rng.random() < 0.7 else rng.choice(OTHER_PROVINCES)
        while True:
            number = make_personal_id(province=province, sex=sex, birth_year=year, rng=rng)
            if number not in self.taken:
                break
        self.taken.add(number)
        born = _date_in_year(rng, year, self.today)
        adult = _age(born, self.today) >= 14
        roll = rng.random()
        level = 0 if not adult or roll < 0.15 else (1 if roll < 0.4 else 2)
        return Person(
            personal_id=number,
            full_name=self.name(sex, surname),
            birth_date=born,
            sex=sex,
            ethnicity=ethnicity,
            birth_place=ID_PROVINCES.get(province, ""),
            hometown=hometown,
            eid_level=level,
        )


def _street_address(rng: random.Random, ward: AdminUnit) -> str:
    if ward.division_type == "xã":
        village = random.Random(f"{ward.code}:{rng.randrange(4)}").choice(VILLAGES)  # noqa: S311
        return f"Xóm {rng.randint(1, 12)}, thôn {village}"
    streets = WARD_STREETS.get(ward.code) or random.Random(ward.code).sample(  # noqa: S311
        GENERIC_STREETS, 5
    )
    street = rng.choice(streets)
    kind = (
        "đường" if street in {"Láng", "Nguyễn Văn Linh", "Phạm Văn Đồng", "Trường Chinh"} else "phố"
    )
    number = rng.randint(1, 180)
    if rng.random() < 0.55:
        return f"Số {number}, ngõ {rng.randint(2, 200)} {kind} {street}"
    return f"Số {number} {kind} {street}"


def _hometown(rng: random.Random, ward: AdminUnit, province: str) -> str:
    if province == HANOI_ID:
        return f"{ward.name}, Thành phố Hà Nội"
    return f"{rng.choice(HOMETOWN_COMMUNES)}, {ID_PROVINCES[province]}"


def _citizen_person(user: User, level: int, hometown: str, ethnicity: str) -> Person:
    parsed = parse_personal_id(user.personal_id or "")
    sex = user.sex or parsed.sex
    born = user.birth_date or date(parsed.birth_year, 1, 1)
    return Person(
        personal_id=parsed.number,
        full_name=user.full_name,
        birth_date=born,
        sex=sex,
        ethnicity=ethnicity,
        birth_place=ID_PROVINCES.get(parsed.province, ""),
        hometown=hometown,
        eid_level=level,
    )


def _households(
    citizens: list[User], wards: list[AdminUnit], taken: set[str], today: date
) -> list[_Home]:
    rng = random.Random(85)  # noqa: S311 — reproducible demo data
    people = _People(rng, taken, today)
    fixed = {u.pk for u in sorted(citizens, key=lambda u: u.pk)[:FIXED_LEVEL_2]}
    by_ward: dict[str, list[User]] = defaultdict(list)
    ward_of = {w.pk: w for w in wards}
    for user in citizens:
        ward = (
            ward_of.get(user.home_unit_id or 0) or wards[int(user.personal_id or "0") % len(wards)]
        )
        by_ward[ward.code].append(user)
    homes: list[_Home] = []
    for ward in wards:
        pool = sorted(by_ward.get(ward.code, []), key=lambda u: u.personal_id or "")
        rng.shuffle(pool)
        persons: dict[int, Person] = {}
        for user in pool:
            roll = rng.random()
            level = 2 if user.pk in fixed or roll < 0.8 else (1 if roll < 0.95 else 0)
            province = HANOI_ID
            ethnicity = rng.choice(ETHNICITIES) if ward.division_type == "xã" else "Kinh"
            persons[user.pk] = _citizen_person(
                user, level, _hometown(rng, ward, province), ethnicity
            )
        placed: set[int] = set()
        for user in pool:
            if user.pk in placed:
                continue
            me = persons[user.pk]
            age = _age(me.birth_date, today)
            home = _Home(ward=ward, address=_street_address(rng, ward))
            placed.add(user.pk)
            partner = None
            if age >= 22 and rng.random() < 0.45:
                partner = next(
                    (
                        persons[o.pk]
                        for o in pool
                        if o.pk not in placed
                        and persons[o.pk].sex != me.sex
                        and _age(persons[o.pk].birth_date, today) >= 22
                        and abs(persons[o.pk].birth_date.year - me.birth_date.year) <= 8
                    ),
                    None,
                )
                if partner is not None:
                    placed.add(next(o.pk for o in pool if persons[o.pk] is partner))
            if partner is not None:
                _couple(home, me, partner, citizen_partner=True, rng=rng)
                _children(home, people, rng, today)
                _elder(home, people, rng, today)
            elif age < 26 or (age < 36 and rng.random() < 0.5):
                _with_parents(home, me, people, rng, today)
            elif age >= 22 and rng.random() < 0.75:
                spouse_sex = "female" if me.sex == "male" else "male"
                year = me.birth_date.year + rng.randint(-6, 6)
                year = min(year, today.year - 20)
                spouse = people.extra(
                    sex=spouse_sex,
                    year=year,
                    hometown=_hometown(rng, ward, HANOI_ID),
                    ethnicity=me.ethnicity,
                )
                _couple(home, me, spouse, citizen_partner=False, rng=rng)
                _children(home, people, rng, today)
                _elder(home, people, rng, today)
            elif age >= 65:
                _with_adult_child(home, me, people, rng, today)
            else:
                _single_with_kin(home, me, people, rng, today)
            homes.append(home)
    return homes


def _couple(home: _Home, me: Person, partner: Person, *, citizen_partner: bool, rng: Any) -> None:
    husband, wife = (me, partner) if me.sex == "male" else (partner, me)
    head, other = (husband, wife) if rng.random() < 0.8 else (wife, husband)
    husband.spouse_id, wife.spouse_id = wife.personal_id, husband.personal_id
    home.members.append(_Member(head, Person.Relation.HEAD, citizen=head is me or citizen_partner))
    home.members.append(
        _Member(other, Person.Relation.SPOUSE, citizen=other is me or citizen_partner)
    )


def _parents_of(home: _Home) -> tuple[Person | None, Person | None]:
    father = next((m.person for m in home.members[:2] if m.person.sex == "male"), None)
    mother = next((m.person for m in home.members[:2] if m.person.sex == "female"), None)
    return father, mother


def _children(home: _Home, people: _People, rng: random.Random, today: date) -> None:
    father, mother = _parents_of(home)
    if father is None or mother is None:
        return
    first = max(mother.birth_date.year, father.birth_date.year) + 21
    last = min(mother.birth_date.year + 40, father.birth_date.year + 55, today.year - 1)
    if first > last:
        return
    count = min(rng.choice([0, 1, 1, 2, 2, 2, 3]), 5 - len(home.members))
    years = sorted(rng.sample(range(first, last + 1), min(count, last - first + 1)))
    for year in years:
        sex = rng.choice(["male", "female"])
        child = people.extra(
            sex=sex,
            year=year,
            surname=father.full_name.split()[0],
            province=HANOI_ID,
            hometown=father.hometown,
            ethnicity=father.ethnicity,
        )
        child.father_id, child.mother_id = father.personal_id, mother.personal_id
        home.members.append(_Member(child, Person.Relation.CHILD))


def _elder(home: _Home, people: _People, rng: random.Random, today: date) -> None:
    head = home.head()
    if len(home.members) >= 5 or _age(head.birth_date, today) > 55 or rng.random() > 0.2:
        return
    year = head.birth_date.year - rng.randint(22, 34)
    if today.year - year > 92:
        return
    mother = people.extra(sex="female", year=year, hometown=head.hometown, ethnicity=head.ethnicity)
    head.mother_id = mother.personal_id
    home.members.append(_Member(mother, Person.Relation.PARENT))


def _with_parents(
    home: _Home, me: Person, people: _People, rng: random.Random, today: date
) -> None:
    surname = me.full_name.split()[0]
    father_year = me.birth_date.year - rng.randint(23, 36)
    mother_year = min(father_year + rng.randint(-2, 6), me.birth_date.year - 20)
    province = HANOI_ID if rng.random() < 0.75 else rng.choice(OTHER_PROVINCES)
    hometown = _hometown(rng, home.ward, province)
    father = people.extra(
        sex="male",
        year=father_year,
        surname=surname,
        province=province,
        hometown=hometown,
        ethnicity=me.ethnicity,
    )
    mother = people.extra(
        sex="female", year=mother_year, hometown=father.hometown, ethnicity=me.ethnicity
    )
    father.spouse_id, mother.spouse_id = mother.personal_id, father.personal_id
    me.father_id, me.mother_id = father.personal_id, mother.personal_id
    me.hometown = father.hometown
    if rng.random() < 0.9:
        home.members.append(_Member(father, Person.Relation.HEAD))
        home.members.append(_Member(mother, Person.Relation.SPOUSE))
    else:  # a widowed mother heads the household; the father is not registered here
        me.father_id = ""
        people.taken.discard(father.personal_id)
        mother.spouse_id = ""
        home.members.append(_Member(mother, Person.Relation.HEAD))
    home.members.append(_Member(me, Person.Relation.CHILD, citizen=True))
    if len(home.members) < 5 and rng.random() < 0.4:
        year = me.birth_date.year + rng.choice([-4, -3, -2, 2, 3, 5])
        if max(mother_year, father_year) + 20 <= year <= min(mother_year + 42, today.year - 1):
            sex = rng.choice(["male", "female"])
            sibling = people.extra(
                sex=sex,
                year=year,
                surname=surname,
                province=HANOI_ID,
                hometown=me.hometown,
                ethnicity=me.ethnicity,
            )
            sibling.father_id, sibling.mother_id = me.father_id, mother.personal_id
            home.members.append(_Member(sibling, Person.Relation.CHILD))


def _with_adult_child(
    home: _Home, me: Person, people: _People, rng: random.Random, today: date
) -> None:
    """An elderly citizen living with a son's (or daughter's) family: the child heads it."""
    year = min(me.birth_date.year + rng.randint(22, 34), today.year - 22)
    sex = rng.choice(["male", "male", "female"])
    surname = me.full_name.split()[0] if me.sex == "male" else None
    child = people.extra(
        sex=sex,
        year=year,
        surname=surname,
        province=HANOI_ID,
        hometown=me.hometown,
        ethnicity=me.ethnicity,
    )
    if me.sex == "male":
        child.father_id = me.personal_id
    else:
        child.mother_id = me.personal_id
    in_law = people.extra(
        sex="female" if sex == "male" else "male",
        year=year + rng.randint(-4, 4),
        hometown=_hometown(rng, home.ward, HANOI_ID),
        ethnicity=me.ethnicity,
    )
    child.spouse_id, in_law.spouse_id = in_law.personal_id, child.personal_id
    home.members.append(_Member(child, Person.Relation.HEAD))
    home.members.append(_Member(in_law, Person.Relation.SPOUSE))
    home.members.append(_Member(me, Person.Relation.PARENT, citizen=True))
    _children(home, people, rng, today)


def _single_with_kin(
    home: _Home, me: Person, people: _People, rng: random.Random, today: date
) -> None:
    """A single adult heading a household with a child, or with a sibling."""
    home.members.append(_Member(me, Person.Relation.HEAD, citizen=True))
    first = me.birth_date.year + 22
    last = min(me.birth_date.year + 40, today.year - 1)
    surname = me.full_name.split()[0]
    if first <= last and rng.random() < 0.6:
        for year in sorted(
            rng.sample(range(first, last + 1), min(rng.randint(1, 2), last - first + 1))
        ):
            child = people.extra(
                sex=rng.choice(["male", "female"]),
                year=year,
                surname=surname if me.sex == "male" else None,
                province=HANOI_ID,
                hometown=me.hometown,
                ethnicity=me.ethnicity,
            )
            if me.sex == "male":
                child.father_id = me.personal_id
            else:
                child.mother_id = me.personal_id
            home.members.append(_Member(child, Person.Relation.CHILD))
        return
    year = min(me.birth_date.year + rng.choice([-5, -3, -2, 2, 3, 6]), today.year - 16)
    sibling = people.extra(
        sex=rng.choice(["male", "female"]),
        year=year,
        surname=surname,
        province=HANOI_ID,
        hometown=me.hometown,
        ethnicity=me.ethnicity,
    )
    home.members.append(_Member(sibling, Person.Relation.OTHER))


def _household_codes(homes: list[_Home]) -> None:
    """Codes like "00070-000012": the ward code and a sequence within the ward."""
    last: dict[str, int] = defaultdict(int)
    for code in Household.objects.values_list("code", flat=True):
        ward_code, _, seq = code.partition("-")
        if seq.isdigit():
            last[ward_code] = max(last[ward_code], int(seq))
    for home in homes:
        last[home.ward.code] += 1
        home.code = f"{home.ward.code}-{last[home.ward.code]:06d}"


def _save_people(homes: list[_Home]) -> list[Person]:
    households = Household.objects.bulk_create(
        [Household(code=h.code, address=h.address, ward=h.ward) for h in homes], batch_size=500
    )
    persons: list[Person] = []
    for home, household in zip(homes, households, strict=True):
        for member in home.members:
            member.person.household = household
            member.person.relation_to_head = member.relation
            persons.append(member.person)
    return Person.objects.bulk_create(persons, batch_size=500)


def _unique_code(rng: random.Random, taken: set[str], prefix: str, digits: int) -> str:
    while True:
        code = f"{prefix}{rng.randrange(10**digits):0{digits}d}"
        if code not in taken:
            taken.add(code)
            return code


def _businesses(
    citizens: list[Person], others: list[Person], wards: list[AdminUnit], today: date
) -> list[Business]:
    rng = random.Random(86)  # noqa: S311 — reproducible demo data
    taken = set(Business.objects.values_list("code", flat=True))
    ward_by_pk = {w.pk: w for w in wards}
    adults = [p for p in citizens if 25 <= _age(p.birth_date, today) <= 70]
    other_adults = [p for p in others if 25 <= _age(p.birth_date, today) <= 70]
    if not adults and not other_adults:
        return []
    count = min(BUSINESSES, (len(adults) + len(other_adults)) // 3)
    made: list[Business] = []
    for index in range(count):
        pool = adults if (index % 5 < 2 and adults) or not other_adults else other_adults
        rep = rng.choice(pool)
        kind = rng.choices(
            ["llc", "jsc", "private", "cooperative", "household"], weights=[45, 20, 8, 5, 22]
        )[0]
        home_ward = ward_by_pk.get(rep.household.ward_id) if rep.household else None
        ward = home_ward if kind == "household" and home_ward else rng.choice(wards)
        if kind == "cooperative":
            ward = rng.choice([w for w in wards if w.division_type == "xã"] or wards)
        brand = rng.choice(BRANDS)
        sector, sector_en, vsic = AGRI_SECTOR if kind == "cooperative" else rng.choice(SECTORS)
        if kind == "llc":
            name = f"Công ty TNHH {sector} {brand}"
            name_en = f"{ascii_fold(brand)} {sector_en} Company Limited"
            capital = rng.randint(5, 200) * 100_000_000
        elif kind == "jsc":
            name = f"Công ty Cổ phần {sector} {brand}"
            name_en = f"{ascii_fold(brand)} {sector_en} Joint Stock Company"
            capital = rng.randint(5, 200) * 1_000_000_000
        elif kind == "private":
            name = f"Doanh nghiệp tư nhân {brand}"
            name_en = f"{ascii_fold(brand)} Private Enterprise"
            capital = rng.randint(2, 50) * 100_000_000
        elif kind == "cooperative":
            name = f"Hợp tác xã {sector} {brand}"
            name_en = f"{ascii_fold(brand)} {sector_en} Cooperative"
            capital = rng.randint(1, 20) * 100_000_000
        else:
            shop, vsic = rng.choice(SHOPS)
            name = f"Hộ kinh doanh {shop} {rep.full_name}"
            name_en = f"{ascii_fold(rep.full_name)} household business"
            capital = rng.randint(2, 50) * 10_000_000
        earliest = max(1995, rep.birth_date.year + 21)
        latest = today.year - 1
        registered = _date_in_year(rng, rng.randint(min(earliest, latest), latest), today)
        status = rng.choices(["active", "suspended", "dissolved"], weights=[88, 7, 5])[0]
        made.append(
            Business(
                code=_unique_code(rng, taken, "01", 8),
                name=name,
                name_en=name_en,
                kind=kind,
                registered_on=registered,
                address=_street_address(rng, ward),
                ward=ward,
                representative_id=rep.personal_id,
                charter_capital=capital,
                industry_codes=list(vsic),
                status=status,
            )
        )
    return Business.objects.bulk_create(made, batch_size=500)


def _certificate(rng: random.Random, issued: date) -> str:
    series = "AĐ"
    for since, code in CERT_SERIES:
        if issued.year >= since:
            series = code
    return f"{series} {rng.randrange(10**6):06d}"


def _land(homes: list[_Home], businesses: list[Business], today: date) -> int:
    rng = random.Random(87)  # noqa: S311 — reproducible demo data
    ward_ids = {h.ward.pk for h in homes} | {b.ward_id for b in businesses}
    taken = set(
        LandParcel.objects.filter(ward_id__in=ward_ids).values_list(
            "ward_id", "map_sheet", "parcel_number"
        )
    )

    def place(ward: AdminUnit) -> tuple[int, int]:
        while True:
            key = (ward.pk, rng.randint(1, 45), rng.randint(1, 600))
            if key not in taken:
                taken.add(key)
                return key[1], key[2]

    parcels: list[LandParcel] = []
    owners: list[list[str]] = []
    for home in homes:
        rural = home.ward.division_type == "xã"
        holders = [m.person.personal_id for m in home.members if m.relation in ("head", "spouse")]
        if rng.random() < 0.85:
            sheet, number = place(home.ward)
            issued = date(rng.randint(1998, today.year - 1), rng.randint(1, 12), rng.randint(1, 28))
            parcels.append(
                LandParcel(
                    ward=home.ward,
                    map_sheet=sheet,
                    parcel_number=number,
                    address=f"{home.address}, {home.ward.name}",
                    area_m2=Decimal(rng.randint(800, 4000) if rural else rng.randint(300, 1200))
                    / 10,
                    land_use="ONT" if rural else "ODT",
                    use_term="Lâu dài",
                    certificate_number=_certificate(rng, issued),
                    certificate_issued_on=issued,
                )
            )
            owners.append(holders)
        if rural and rng.random() < 0.4:
            sheet, number = place(home.ward)
            issued = date(rng.randint(2000, today.year - 1), rng.randint(1, 12), rng.randint(1, 28))
            use = rng.choice(["LUC", "LUC", "CLN"])
            parcels.append(
                LandParcel(
                    ward=home.ward,
                    map_sheet=sheet,
                    parcel_number=number,
                    address=f"Xứ đồng {rng.choice(FIELDS)}, {home.ward.name}",
                    area_m2=Decimal(rng.randint(3000, 15000)) / 10,
                    land_use=use,
                    use_term="Đến ngày 01/07/2064",
                    certificate_number=_certificate(rng, issued),
                    certificate_issued_on=issued,
                )
            )
            owners.append(holders[:1])
    for business in businesses:
        if business.kind == "household" or business.status != "active" or rng.random() > 0.25:
            continue
        ward = business.ward
        sheet, number = place(ward)
        issued = max(business.registered_on, date(2005, 1, 1)) + timedelta(days=rng.randrange(365))
        issued = min(issued, today - timedelta(days=30))
        parcels.append(
            LandParcel(
                ward=ward,
                map_sheet=sheet,
                parcel_number=number,
                address=f"{business.address}, {ward.name}",
                area_m2=Decimal(rng.randint(2000, 50000)) / 10,
                land_use=rng.choice(["TMD", "SKC"]),
                use_term=f"Đến ngày {issued.day:02d}/{issued.month:02d}/{issued.year + 50}",
                owner_business_code=business.code,
                certificate_number=_certificate(rng, issued),
                certificate_issued_on=issued,
            )
        )
        owners.append([])
    saved = LandParcel.objects.bulk_create(parcels, batch_size=500)
    LandOwner.objects.bulk_create(
        [
            LandOwner(parcel=parcel, personal_id=pid)
            for parcel, holders in zip(saved, owners, strict=True)
            for pid in holders
        ],
        batch_size=1000,
    )
    return len(saved)


def _insurance(citizens: list[Person], wards: list[AdminUnit], today: date) -> int:
    rng = random.Random(88)  # noqa: S311 — reproducible demo data
    employers = list(
        Business.objects.filter(status="active")
        .exclude(kind="household")
        .order_by("code")
        .values_list("code", "name")
    )
    taken = set(InsuranceRecord.objects.values_list("insurance_number", flat=True))
    have = set(InsuranceRecord.objects.values_list("personal_id", flat=True))
    ward_by_pk = {w.pk: w for w in wards}
    records: list[InsuranceRecord] = []
    this_year_end = date(today.year, 12, 31)
    for person in sorted(citizens, key=lambda p: p.personal_id):
        if person.personal_id in have:
            continue
        age = _age(person.birth_date, today)
        roll = rng.random()
        if age < 18 or (age < 61 and roll > 0.92) or (age >= 61 and roll > 0.8):
            continue
        number = _unique_code(rng, taken, "01", 8)
        ward = ward_by_pk.get(person.household.ward_id) if person.household else None
        facility = (
            f"Trạm Y tế {ward.name}"
            if ward is not None and rng.random() < 0.35
            else rng.choice(HOSPITALS)
        )
        start_year = max(1995, person.birth_date.year + rng.randint(18, 28))
        if age >= 61:
            status, card, employer = "retired", "HT3", None
            since = date(start_year, rng.randint(1, 12), 1)
            months = rng.randint(240, 420)
            salary, valid_to = 0, this_year_end
        else:
            start_year = min(start_year, today.year - 1)
            since = date(start_year, rng.randint(1, 12), 1)
            months = (today.year - since.year) * 12 + today.month - since.month
            kind = rng.choices(["contributing", "paused", "voluntary"], weights=[80, 10, 10])[0]
            employer = rng.choice(employers) if employers and kind != "voluntary" else None
            if kind == "contributing" and employer is None:
                kind = "voluntary"
            salary = rng.randint(496, 4000) * 10_000
            if kind == "contributing":
                status, card, valid_to = "contributing", "DN4", this_year_end
            elif kind == "paused":
                status, card = "paused", "DN4"
                months = max(1, months - rng.randint(3, 30))
                valid_to = date(today.year - 1, 12, 31)
            else:
                status, card, valid_to = "voluntary", "GD4", this_year_end
                salary = rng.randint(150, 800) * 10_000
        records.append(
            InsuranceRecord(
                insurance_number=number,
                personal_id=person.personal_id,
                status=status,
                employer_code=employer[0] if employer else "",
                employer_name=employer[1] if employer else "",
                contributing_since=since,
                months_contributed=months,
                salary_basis=salary,
                health_card_number=f"{card}01{number}",
                health_card_valid_to=valid_to,
                health_facility=facility,
            )
        )
    InsuranceRecord.objects.bulk_create(records, batch_size=500)
    return len(records)


@transaction.atomic
def demo_load(stdout: Any = None) -> None:
    today = date.today()  # noqa: DTZ011 — ages and card validity are calendar dates
    city_code = f"{getattr(settings, 'THUDO_CITY', {}).get('PROVINCE_CODE', 1):02d}"
    wards = list(AdminUnit.objects.filter(parent__code=city_code).order_by("code"))
    have = set(Person.objects.values_list("personal_id", flat=True))
    citizens = [
        u
        for u in User.objects.filter(kind=User.Kind.CITIZEN)
        .exclude(personal_id=None)
        .exclude(personal_id="")
        .order_by("personal_id")
        if u.personal_id not in have
    ]
    valid = []
    for user in citizens:
        try:
            parse_personal_id(user.personal_id or "")
        except Exception:  # noqa: S112 — a malformed number stays out of the registry
            continue
        valid.append(user)
    if not wards or not valid:
        if stdout:
            stdout.write("  registries: nothing to add")
        return
    taken = have | {
        pid
        for pid in User.objects.exclude(personal_id=None).values_list("personal_id", flat=True)
        if pid
    }
    homes = _households(valid, wards, taken, today)
    _household_codes(homes)
    _save_people(homes)
    citizen_persons = [m.person for h in homes for m in h.members if m.citizen]
    other_persons = [m.person for h in homes for m in h.members if not m.citizen]
    businesses: list[Business] = []
    if not Business.objects.exists():
        businesses = _businesses(citizen_persons, other_persons, wards, today)
    parcels = _land(homes, businesses, today)
    insured = _insurance(citizen_persons, wards, today)
    if stdout:
        stdout.write(
            f"  registries: households {len(homes)}, residents "
            f"{sum(len(h.members) for h in homes)}, businesses {len(businesses)}, "
            f"land parcels {parcels}, insurance records {insured}"
        )


def demo_samples() -> dict[str, str]:
    """Personal IDs of demo citizens (accounts, first by account id) that show each case: e-ID
    levels 2/1/0, a business representative, a land owner, an insured person, one without
    insurance. A case with no such citizen is left out."""
    citizens = list(
        User.objects.filter(kind=User.Kind.CITIZEN)
        .exclude(personal_id=None)
        .order_by("id")
        .values_list("personal_id", flat=True)
    )
    levels = dict(
        Person.objects.filter(personal_id__in=citizens).values_list("personal_id", "eid_level")
    )
    representatives = set(Business.objects.values_list("representative_id", flat=True))
    owners = set(LandOwner.objects.values_list("personal_id", flat=True))
    insured = dict(InsuranceRecord.objects.values_list("personal_id", "status"))
    tests = {
        "eid_level_2": lambda pid: levels.get(pid) == 2,
        "eid_level_1": lambda pid: levels.get(pid) == 1,
        "eid_level_0": lambda pid: levels.get(pid) == 0,
        "business_representative": lambda pid: pid in representatives and levels.get(pid) == 2,
        "land_owner": lambda pid: pid in owners and levels.get(pid) == 2,
        "insured": lambda pid: insured.get(pid) == "contributing" and levels.get(pid) == 2,
        "not_insured": lambda pid: pid in levels and pid not in insured,
    }
    samples: dict[str, str] = {}
    for case, test in tests.items():
        found = next((pid for pid in citizens if pid and test(pid)), None)
        if found:
            samples[case] = found
    return samples
