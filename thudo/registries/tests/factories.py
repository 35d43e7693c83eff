"""Small, exact registry data for the handler tests (the demo is tested on its own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from thudo.exchange.handlers import ProviderRequest
from thudo.registries.models import Business, InsuranceRecord, LandOwner, LandParcel, Person
from thudo.registries.services import resident_register

FATHER = "001080123456"
MOTHER = "001182654321"
CHILD = "001212000111"
LONER = "001095777777"  # a resident recorded in no household
UNKNOWN = "001090999999"
BUSINESS = "0101234567"


@dataclass
class Family:
    father: Person
    mother: Person
    child: Person
    business: Business
    parcel: LandParcel
    insurance: InsuranceRecord


def make_family(ward: Any) -> Family:
    father = resident_register(
        personal_id=FATHER,
        full_name="Nguyễn Văn An",
        birth_date=date(1980, 3, 2),
        sex="male",
        ward=ward,
        address="Số 12 phố Hàng Bạc",
        household_code="00070-000001",
        hometown="Phường Hoàn Kiếm, Thành phố Hà Nội",
        birth_place="Thành phố Hà Nội",
        spouse_id=MOTHER,
    )
    mother = resident_register(
        personal_id=MOTHER,
        full_name="Trần Thị Bình",
        birth_date=date(1982, 7, 9),
        sex="female",
        ward=ward,
        household_code="00070-000001",
        relation_to_head=Person.Relation.SPOUSE,
        spouse_id=FATHER,
        eid_level=1,
    )
    child = resident_register(
        personal_id=CHILD,
        full_name="Nguyễn Minh Châu",
        birth_date=date(2012, 1, 20),
        sex="male",
        ward=ward,
        household_code="00070-000001",
        relation_to_head=Person.Relation.CHILD,
        father_id=FATHER,
        mother_id=MOTHER,
        eid_level=0,
    )
    Person.objects.create(
        personal_id=LONER,
        full_name="Lê Văn Lẻ",
        birth_date=date(1995, 5, 5),
        sex="male",
    )
    business = Business.objects.create(
        code=BUSINESS,
        name="Công ty TNHH Thương mại và Dịch vụ An Phú",
        name_en="An Phu Trading and Services Company Limited",
        kind=Business.Kind.LLC,
        registered_on=date(2015, 4, 1),
        address="Số 5 phố Hàng Đào",
        ward=ward,
        representative_id=FATHER,
        charter_capital=2_000_000_000,
        industry_codes=["4690", "4711"],
    )
    parcel = LandParcel.objects.create(
        ward=ward,
        map_sheet=12,
        parcel_number=345,
        address="Số 12 phố Hàng Bạc, Phường Hoàn Kiếm",
        area_m2=Decimal("64.5"),
        land_use="ODT",
        certificate_number="CS 123456",
        certificate_issued_on=date(2019, 6, 1),
    )
    LandOwner.objects.create(parcel=parcel, personal_id=FATHER)
    LandOwner.objects.create(parcel=parcel, personal_id=MOTHER)
    insurance = InsuranceRecord.objects.create(
        insurance_number="0123456789",
        personal_id=FATHER,
        status=InsuranceRecord.Status.CONTRIBUTING,
        employer_code=BUSINESS,
        employer_name=business.name,
        contributing_since=date(2005, 8, 1),
        months_contributed=240,
        salary_basis=15_000_000,
        health_card_number="DN4010123456789",
        health_card_valid_to=date(2030, 12, 31),
        health_facility="Bệnh viện Đa khoa Xanh Pôn",
    )
    return Family(father, mother, child, business, parcel, insurance)


def request(
    path: str,
    *,
    method: str = "GET",
    query: dict[str, str] | None = None,
    body: bytes = b"",
    subject: str = "",
    service: str = "VN/GOV/BCA/CSDLQGDC/person",
) -> ProviderRequest:
    return ProviderRequest(
        method=method,
        path=path,
        query=query or {},
        body=body,
        message_id="test-message-0001",
        client="VN/GOV/HN-UBND/PORTAL",
        service=service,
        purpose="Kiểm thử",
        subject=subject,
    )
