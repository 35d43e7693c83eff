"""Writes to the base registries. In production these tables are filled by their owners'
systems; here they are filled by the demo (thudo.registries.demo, in bulk) and by tests of other
domains, which register a resident for a citizen account with `resident_register`."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from thudo.accounts.personal_id import validate_personal_id
from thudo.core.audit import audit_record
from thudo.core.models import AdminUnit

from .models import Household, Person


@transaction.atomic
def resident_register(
    *,
    personal_id: str,
    full_name: str,
    birth_date: date,
    sex: str,
    ward: AdminUnit,
    address: str = "Số 1 phố Tràng Tiền",
    eid_level: int = 2,
    household_code: str = "",
    relation_to_head: str = Person.Relation.HEAD,
    **extra: Any,
) -> Person:
    """Add a resident to the population registry, in the household `household_code` (made at
    `address` in `ward` when it does not exist; by default one of their own). The number must
    agree with the sex and birth year (ValidationFailed otherwise)."""
    number = validate_personal_id(personal_id, sex=sex, birth_date=birth_date).number
    household, _ = Household.objects.get_or_create(
        code=household_code or f"{ward.code}-{number}",
        defaults={"address": address, "ward": ward},
    )
    person = Person.objects.create(
        personal_id=number,
        full_name=" ".join(full_name.split()),
        birth_date=birth_date,
        sex=sex,
        household=household,
        relation_to_head=relation_to_head,
        eid_level=eid_level,
        **extra,
    )
    audit_record(actor=None, action="registries.resident_registered", obj=person)
    return person


def resident_for_user(user: Any, *, ward: AdminUnit | None = None, eid_level: int = 2) -> Person:
    """The resident matching a citizen account (same number, name, birth date and sex), in the
    account's home ward (or `ward`); made when missing. For tests and demos."""
    existing = Person.objects.filter(personal_id=user.personal_id).first()
    if existing is not None:
        return existing
    home = ward or user.home_unit or AdminUnit.objects.get(code="00070")
    return resident_register(
        personal_id=user.personal_id,
        full_name=user.full_name,
        birth_date=user.birth_date,
        sex=user.sex,
        ward=home,
        eid_level=eid_level,
    )
