"""Registering residents (for other domains' tests and demos)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from thudo.core.errors import ValidationFailed
from thudo.core.models import AuditEvent
from thudo.registries.models import Household, Person
from thudo.registries.services import resident_for_user, resident_register


@pytest.mark.django_db
def test_resident_for_user_matches_the_account(citizen: Any, ward: Any) -> None:
    person = resident_for_user(citizen, ward=ward)
    assert (person.personal_id, person.full_name, person.birth_date, person.sex) == (
        citizen.personal_id,
        citizen.full_name,
        citizen.birth_date,
        citizen.sex,
    )
    assert person.eid_level == 2
    assert person.household is not None and person.household.ward == ward
    assert person.relation_to_head == "head"
    assert resident_for_user(citizen) == person  # made once
    assert AuditEvent.objects.filter(action="registries.resident_registered").count() == 1


@pytest.mark.django_db
def test_a_number_that_disagrees_with_sex_or_year_is_refused(ward: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        resident_register(
            personal_id="001090123456",
            full_name="Trần Thị Bình",
            birth_date=date(1990, 1, 1),
            sex="female",
            ward=ward,
        )
    assert "personal_id" in caught.value.fields
    with pytest.raises(ValidationFailed):
        resident_register(
            personal_id="001090123456",
            full_name="Nguyễn Văn An",
            birth_date=date(1991, 1, 1),
            sex="male",
            ward=ward,
        )
    assert not Person.objects.exists() and not Household.objects.exists()
