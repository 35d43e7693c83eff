from __future__ import annotations

from datetime import date
from typing import Any

import jsonschema
import pytest
from django.utils import translation

from thudo.core.errors import ValidationFailed
from thudo.procedures.specs import form_validate, json_schema, procedure_spec, spec_label

SPEC: dict[str, Any] = {
    "code": "X.1",
    "name": "Thử",
    "name_en": "Test",
    "fields": [
        {"name": "name", "label": "Tên", "label_en": "Name", "type": "text", "required": True,
         "max_length": 10, "pattern": ""},
        {"name": "note", "label": "Ghi chú", "label_en": "Note", "type": "textarea",
         "required": False, "max_length": None},
        {"name": "code", "label": "Mã", "label_en": "Code", "type": "text", "required": False,
         "pattern": "[A-Z]{3}"},
        {"name": "count", "label": "Số", "label_en": "Count", "type": "integer", "required": True,
         "min_value": 1, "max_value": 5},
        {"name": "day", "label": "Ngày", "label_en": "Day", "type": "date", "required": True},
        {"name": "sex", "label": "Giới tính", "label_en": "Sex", "type": "choice",
         "required": True, "choices": [["male", "Nam", "Male"], ["female", "Nữ", "Female"]]},
        {"name": "agree", "label": "Đồng ý", "label_en": "Agree", "type": "boolean",
         "required": True},
        {"name": "extra", "label": "Thêm", "label_en": "Extra", "type": "boolean",
         "required": False},
        {"name": "pid", "label": "Số định danh", "label_en": "ID", "type": "personal_id",
         "required": True},
        {"name": "phone", "label": "Điện thoại", "label_en": "Phone", "type": "phone",
         "required": True},
        {"name": "email", "label": "Email", "label_en": "E-mail", "type": "email",
         "required": False},
    ],
}  # fmt: skip

GOOD = {
    "name": "  Nguyễn   An ",
    "count": "3",
    "day": "2025-02-28",
    "sex": "female",
    "agree": "on",
    "pid": "001090123456",
    "phone": "+84 912 345 678",
    "email": "An@Example.VN",
}


def test_valid_form_is_cleaned_to_json_safe_values() -> None:
    cleaned = form_validate(SPEC, GOOD)
    assert cleaned == {
        "name": "Nguyễn An",
        "note": "",
        "code": "",
        "count": 3,
        "day": "2025-02-28",
        "sex": "female",
        "agree": True,
        "extra": False,
        "pid": "001090123456",
        "phone": "0912345678",
        "email": "An@example.vn",
    }


def test_native_values_are_accepted() -> None:
    data = {**GOOD, "count": 2, "day": date(2024, 1, 2), "agree": True, "phone": "024 3825 1234"}
    cleaned = form_validate(SPEC, data)
    assert cleaned["count"] == 2 and cleaned["day"] == "2024-01-02"
    assert cleaned["phone"] == "02438251234"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("name", "x" * 11, "Use at most 10 characters."),
        ("code", "abc", "The value does not have the expected format."),
        ("count", "two", "Enter a whole number."),
        ("count", "0", "Enter a number of at least 1."),
        ("count", 6, "Enter a number of at most 5."),
        ("count", True, "Enter a whole number."),
        ("day", "28/02/2025", "Enter a date as YYYY-MM-DD."),
        ("day", "2025-02-30", "Enter a date as YYYY-MM-DD."),
        ("sex", "other", "Choose one of the listed options."),
        ("agree", "", "Tick this box to continue."),
        ("extra", "maybe", "Answer yes or no."),
        ("pid", "12345", "A personal ID number has exactly 12 digits."),
        ("pid", "999090123456", "The first three digits are not a province code."),
        ("phone", "0123", "Enter a Vietnamese phone number"),
        ("phone", "0112345678", "Enter a Vietnamese phone number"),
        ("email", "not-an-email", "Enter a valid e-mail address."),
    ],
)
def test_each_wrong_value_is_named(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        form_validate(SPEC, {**GOOD, field: value})
    with translation.override("en"):
        fields = info.value.as_dict()["fields"]
        assert list(fields) == [field]
        assert fields[field][0].startswith(message)


def test_all_errors_are_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as info:
        form_validate(SPEC, {})
    assert set(info.value.fields) == {"name", "count", "day", "sex", "agree", "pid", "phone"}


def test_messages_are_translatable() -> None:
    with translation.override("vi"), pytest.raises(ValidationFailed) as info:
        form_validate(SPEC, {**GOOD, "count": "x"})
    with translation.override("en"):
        assert info.value.as_dict()["fields"]["count"] == ["Enter a whole number."]


def test_spec_label_follows_the_language() -> None:
    item = {"name": "Hộ tịch", "name_en": "Civil status"}
    with translation.override("en"):
        assert spec_label(item) == "Civil status"
        assert spec_label({"label": "Tên", "label_en": ""}) == "Tên"  # falls back
    with translation.override("vi"):
        assert spec_label(item) == "Hộ tịch"
    assert spec_label({"title": "Giấy", "title_en": "Paper"}, "en") == "Paper"


def test_json_schema_is_valid_2020_12_and_agrees_with_form_validate() -> None:
    schema = json_schema(SPEC)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    cleaned = form_validate(SPEC, GOOD)
    assert not list(validator.iter_errors({k: v for k, v in cleaned.items() if v != ""}))
    bad = {**cleaned, "sex": "x", "count": 9, "pid": "12"}
    bad_fields = {e.path[0] for e in validator.iter_errors(bad)}
    assert {"sex", "count", "pid"} <= bad_fields
    assert set(schema["required"]) == {"name", "count", "day", "sex", "agree", "pid", "phone"}


def test_procedure_spec_has_the_contract_shape(make_procedure: Any) -> None:
    from datetime import time

    procedure = make_procedure(cutoff=time(15, 0), department_code="")
    spec = procedure_spec(procedure)
    assert spec["code"] == "9.000001" and spec["deadline_days"] == "1.0"
    assert spec["cutoff"] == "15:00" and spec["fee"] == 0 and spec["fee_waived_online"] is True
    assert spec["sector"] == {"code": "ho-tich", "name": "Hộ tịch", "name_en": "Civil status"}
    assert spec["papers"][0]["file_types"] == ["pdf", "jpg", "png"]
    assert spec["fields"][0]["name"] == "child_name" and spec["fields"][0]["max_length"] == 20
    assert [s["share"] for s in spec["steps"]] == [10, 60, 30]
    assert spec["result"]["fields"] == ["child_name"]
    jsonschema.Draft202012Validator.check_schema(json_schema(spec))
