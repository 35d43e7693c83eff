"""The 12-digit personal identification number (số định danh cá nhân) — DOMAIN.md, "Identity".

Digits 1-3: province of birth registration; digit 4: century and sex (1900s: 0 male / 1 female,
2000s: 2 / 3, 2100s: 4 / 5, 2200s: 6 / 7, 2300s: 8 / 9); digits 5-6: last two digits of the birth
year; digits 7-12: random.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed

# Province codes used in personal IDs (pre-2025 numbering of the 63 provinces, which IDs keep).
ID_PROVINCE_CODES = frozenset(
    {
        "001",
        "002",
        "004",
        "006",
        "008",
        "010",
        "011",
        "012",
        "014",
        "015",
        "017",
        "019",
        "020",
        "022",
        "024",
        "025",
        "026",
        "027",
        "030",
        "031",
        "033",
        "034",
        "035",
        "036",
        "037",
        "038",
        "040",
        "042",
        "044",
        "045",
        "046",
        "048",
        "049",
        "051",
        "052",
        "054",
        "056",
        "058",
        "060",
        "062",
        "064",
        "066",
        "067",
        "068",
        "070",
        "072",
        "074",
        "075",
        "077",
        "079",
        "080",
        "082",
        "083",
        "084",
        "086",
        "087",
        "089",
        "091",
        "092",
        "093",
        "094",
        "095",
        "096",
    }
)


@dataclass(frozen=True)
class PersonalId:
    number: str
    province: str
    sex: str  # "male" | "female"
    birth_year: int


def parse_personal_id(value: str, *, field: str = "personal_id") -> PersonalId:
    """Parse and check the structure of a personal ID, or raise ValidationFailed on `field`."""
    number = (value or "").strip()
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        raise ValidationFailed(fields={field: _("A personal ID number has exactly 12 digits.")})
    province = number[:3]
    if province not in ID_PROVINCE_CODES:
        raise ValidationFailed(fields={field: _("The first three digits are not a province code.")})
    gender_century = int(number[3])
    century = 1900 + 100 * (gender_century // 2)
    sex = "male" if gender_century % 2 == 0 else "female"
    year = century + int(number[4:6])
    if year > date.today().year:  # noqa: DTZ011 — a calendar year, not a moment
        raise ValidationFailed(
            fields={field: _("The birth year encoded in the number is in the future.")}
        )
    return PersonalId(number=number, province=province, sex=sex, birth_year=year)


def validate_personal_id(
    value: str,
    *,
    sex: str | None = None,
    birth_date: date | None = None,
    field: str = "personal_id",
) -> PersonalId:
    """Check the structure and its agreement with the person's sex and birth year."""
    parsed = parse_personal_id(value, field=field)
    if sex and sex in {"male", "female"} and sex != parsed.sex:
        raise ValidationFailed(fields={field: _("The 4th digit does not match the person's sex.")})
    if birth_date and birth_date.year != parsed.birth_year:
        raise ValidationFailed(fields={field: _("Digits 4 to 6 do not match the year of birth.")})
    return parsed


def make_personal_id(
    *, province: str, sex: str, birth_year: int, rng: random.Random | None = None
) -> str:
    """A structurally valid number (demo data and tests)."""
    rng = rng or random.Random()  # noqa: S311 — demo data, not a secret
    century_index = (birth_year - 1900) // 100
    digit = century_index * 2 + (1 if sex == "female" else 0)
    return f"{province}{digit}{birth_year % 100:02d}{rng.randrange(10**6):06d}"
