from datetime import date

import pytest

from thudo.accounts.personal_id import make_personal_id, parse_personal_id, validate_personal_id
from thudo.core.errors import ValidationFailed


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English here; the Vietnamese default is checked below."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("number", "sex", "year"),
    [
        ("001090123456", "male", 1990),
        ("001190123456", "female", 1990),
        ("079205000001", "male", 2005),
        ("048307999999", "female", 2007),
    ],
)
def test_parses_century_sex_and_year(number: str, sex: str, year: int) -> None:
    parsed = parse_personal_id(number)
    assert (parsed.sex, parsed.birth_year) == (sex, year)


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        ("00109012345", "12 digits"),
        ("0010901234567", "12 digits"),
        ("00109012345a", "12 digits"),
        ("００１０９０１２３４５６", "12 digits"),  # full-width digits are not ASCII digits
        ("003090123456", "province"),
        ("001499123456", "future"),
    ],
)
def test_rejects_bad_structure_naming_the_field(number: str, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_personal_id(number)
    body = exc.value.as_dict()
    assert body["code"] == "validation_failed"
    assert fragment in body["fields"]["personal_id"][0]


def test_must_agree_with_sex_and_birth_year() -> None:
    validate_personal_id("001090123456", sex="male", birth_date=date(1990, 1, 1))
    with pytest.raises(ValidationFailed) as exc:
        validate_personal_id("001090123456", sex="female")
    assert "sex" in exc.value.as_dict()["fields"]["personal_id"][0]
    with pytest.raises(ValidationFailed) as exc:
        validate_personal_id("001090123456", birth_date=date(1991, 1, 1))
    assert "year of birth" in exc.value.as_dict()["fields"]["personal_id"][0]


def test_error_message_is_vietnamese_by_default() -> None:
    from django.utils import translation

    with translation.override("vi"):
        with pytest.raises(ValidationFailed) as exc:
            parse_personal_id("123")
        message = exc.value.as_dict()["fields"]["personal_id"][0]
    assert message == "Số định danh cá nhân gồm đúng 12 chữ số."


@pytest.mark.parametrize("year", [1950, 1999, 2000, 2024])
@pytest.mark.parametrize("sex", ["male", "female"])
def test_generated_numbers_validate(year: int, sex: str) -> None:
    number = make_personal_id(province="001", sex=sex, birth_year=year)
    parsed = validate_personal_id(number, sex=sex, birth_date=date(year, 6, 1))
    assert parsed.province == "001"
