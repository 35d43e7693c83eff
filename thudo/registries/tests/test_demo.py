"""The demo registries: consistent with the demo citizens, coherent households, valid numbers,
the same data on every load, and loaded only once."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter, defaultdict
from datetime import date
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from thudo.accounts.models import User
from thudo.accounts.personal_id import validate_personal_id
from thudo.registries.demo import demo_load, demo_samples
from thudo.registries.models import (
    Business,
    Household,
    InsuranceRecord,
    LandOwner,
    LandParcel,
    Person,
)


@pytest.fixture
def demo_city(hanoi: Any) -> None:
    """Units and the accounts' demo (agencies, officials, 1,000 citizens)."""
    from thudo.core.registry import registry

    for step in registry.demo_steps():
        if step.name in ("units", "accounts"):
            step.load()


def age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def snapshot() -> str:
    """A digest of every registry row, independent of primary keys."""
    parts = [
        sorted(Household.objects.values_list("code", "address", "ward__code")),
        sorted(
            Person.objects.values_list(
                "personal_id",
                "full_name",
                "birth_date",
                "sex",
                "household__code",
                "relation_to_head",
                "father_id",
                "mother_id",
                "spouse_id",
                "eid_level",
                "hometown",
                "birth_place",
                "ethnicity",
            )
        ),
        sorted(Business.objects.values_list("code", "name", "representative_id", "status")),
        sorted(
            LandParcel.objects.values_list(
                "ward__code", "map_sheet", "parcel_number", "area_m2", "certificate_number"
            )
        ),
        sorted(LandOwner.objects.values_list("parcel__certificate_number", "personal_id")),
        sorted(
            InsuranceRecord.objects.values_list(
                "insurance_number", "personal_id", "employer_code", "health_card_number"
            )
        ),
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def wipe() -> None:
    LandOwner.objects.all().delete()
    LandParcel.objects.all().delete()
    InsuranceRecord.objects.all().delete()
    Business.objects.all().delete()
    Person.objects.all().delete()
    Household.objects.all().delete()


@pytest.mark.django_db
def test_every_citizen_is_a_resident_with_the_same_identity(demo_city: None) -> None:
    out = io.StringIO()
    demo_load(stdout=out)
    citizens = list(User.objects.filter(kind=User.Kind.CITIZEN).exclude(personal_id=None))
    assert len(citizens) >= 1000
    persons = {
        p.personal_id: p for p in Person.objects.select_related("household", "household__ward")
    }
    for user in citizens:
        person = persons[user.personal_id or ""]
        assert person.full_name == user.full_name
        assert person.birth_date == user.birth_date
        assert person.sex == user.sex
        assert person.household is not None
        assert person.household.ward_id == user.home_unit_id
    # relatives without accounts are residents too, with valid numbers matching sex and year
    assert len(persons) > 2 * len(citizens)
    for person in persons.values():
        validate_personal_id(person.personal_id, sex=person.sex, birth_date=person.birth_date)
        assert person.household is not None
        if person.personal_id[:3] == "001":
            assert person.birth_place == "Thành phố Hà Nội"
    assert "households" in out.getvalue()


@pytest.mark.django_db
def test_households_are_coherent_families(demo_city: None) -> None:
    demo_load()
    today = date.today()  # noqa: DTZ011 — ages are calendar dates
    persons = {p.personal_id: p for p in Person.objects.all()}
    members: dict[int, list[Person]] = defaultdict(list)
    for person in persons.values():
        members[person.household_id or 0].append(person)
    sizes = Counter(len(m) for m in members.values())
    assert set(sizes) <= {2, 3, 4, 5}
    assert len(sizes) >= 3  # a mix of sizes
    relations = Counter(p.relation_to_head for p in persons.values())
    assert relations["spouse"] > 300 and relations["child"] > 500 and relations["parent"] > 0
    for household in members.values():
        heads = [p for p in household if p.relation_to_head == "head"]
        assert len(heads) == 1
        head = heads[0]
        assert age(head.birth_date, today) >= 18
        for person in household:
            if person.relation_to_head == "spouse":
                assert person.sex != head.sex
                assert person.spouse_id == head.personal_id
                assert head.spouse_id == person.personal_id
            if person.relation_to_head == "parent":
                assert person.birth_date.year <= head.birth_date.year - 18
    for person in persons.values():
        for parent_id, sex in ((person.father_id, "male"), (person.mother_id, "female")):
            if parent_id:
                parent = persons[parent_id]
                assert parent.sex == sex
                assert parent.birth_date.year + 18 <= person.birth_date.year
                assert parent.household_id == person.household_id
        if person.father_id and person.relation_to_head == "child":
            # children carry their father's surname
            assert person.full_name.split()[0] == persons[person.father_id].full_name.split()[0]
    # e-ID: most citizens level 2, some level 1, a few without
    citizen_ids = set(
        User.objects.filter(kind=User.Kind.CITIZEN).values_list("personal_id", flat=True)
    )
    levels = Counter(persons[pid or ""].eid_level for pid in citizen_ids)
    assert levels[2] > 700 and 50 < levels[1] < 250 and 10 < levels[0] < 120
    first = User.objects.filter(kind=User.Kind.CITIZEN).order_by("id")[:10]
    assert all(persons[u.personal_id or ""].eid_level == 2 for u in first)


@pytest.mark.django_db
def test_businesses_land_and_insurance_fit_the_residents(demo_city: None) -> None:
    demo_load()
    today = date.today()  # noqa: DTZ011
    persons = {p.personal_id: p for p in Person.objects.select_related("household")}
    citizen_ids = set(
        User.objects.filter(kind=User.Kind.CITIZEN).values_list("personal_id", flat=True)
    )

    businesses = list(Business.objects.all())
    assert 200 <= len(businesses) <= 300
    assert all(len(b.code) == 10 and b.code.startswith("01") for b in businesses)
    assert all(b.code.isdigit() for b in businesses)
    assert all(b.representative_id in persons for b in businesses)
    assert sum(b.representative_id in citizen_ids for b in businesses) >= 50
    assert {b.kind for b in businesses} == set(Business.Kind.values)
    for business in businesses:
        rep = persons[business.representative_id]
        assert age(rep.birth_date, business.registered_on) >= 18

    households = list(Household.objects.all())
    owned = LandOwner.objects.values_list("personal_id", "parcel__ward_id", "parcel__land_use")
    homes = {(pid, ward) for pid, ward, use in owned if use in ("ODT", "ONT")}
    heads = {p.household_id: p for p in persons.values() if p.relation_to_head == "head"}
    own_home = sum((heads[h.pk].personal_id, h.ward_id) in homes for h in households)
    assert own_home >= 0.75 * len(households)
    for parcel in LandParcel.objects.select_related("ward"):
        if parcel.land_use == "ODT":
            assert parcel.ward.division_type == "phường"
        if parcel.land_use == "ONT":
            assert parcel.ward.division_type == "xã"
        assert parcel.certificate_number and parcel.area_m2 > 0
    assert LandParcel.objects.exclude(owner_business_code="").exists()
    assert not LandOwner.objects.exclude(personal_id__in=list(persons)).exists()

    employers = {b.code: b.name for b in businesses}
    records = list(InsuranceRecord.objects.all())
    assert len(records) >= 700
    for record in records:
        person = persons[record.personal_id]
        assert record.personal_id in citizen_ids
        assert age(person.birth_date, today) >= 18
        assert len(record.insurance_number) == 10 and record.insurance_number.isdigit()
        assert len(record.health_card_number) == 15
        assert record.health_card_number[3:5] == "01"
        assert record.health_card_number.endswith(record.insurance_number)
        if record.employer_code:
            assert employers[record.employer_code] == record.employer_name
        if record.status == "contributing":
            assert record.employer_code
            assert record.health_card_valid_to and record.health_card_valid_to >= today
    assert {r.status for r in records} == set(InsuranceRecord.Status.values)

    # the samples the docs and other demos point at, and the operator's command
    samples = demo_samples()
    assert set(samples) == {
        "eid_level_2",
        "eid_level_1",
        "eid_level_0",
        "business_representative",
        "land_owner",
        "insured",
        "not_insured",
    }
    assert persons[samples["eid_level_1"]].eid_level == 1
    assert Business.objects.filter(representative_id=samples["business_representative"]).exists()
    assert samples["not_insured"] not in {r.personal_id for r in records}
    out = io.StringIO()
    call_command("registries", "samples", stdout=out)
    assert samples["insured"] in out.getvalue()
    out = io.StringIO()
    call_command("registries", "show", samples["insured"], stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["person"]["data"]["personal_id"] == samples["insured"]
    assert shown["insurance"]["status"] == 200
    with pytest.raises(CommandError):
        call_command("registries", "show", "123", stdout=io.StringIO())


@pytest.mark.django_db
def test_load_is_idempotent_and_deterministic(demo_city: None) -> None:
    demo_load()
    first = snapshot()
    counts = (Person.objects.count(), Business.objects.count(), LandParcel.objects.count())
    out = io.StringIO()
    demo_load(stdout=out)
    assert "nothing to add" in out.getvalue()
    assert (Person.objects.count(), Business.objects.count(), LandParcel.objects.count()) == (
        counts
    )
    # another database with the same demo gets the same registries
    wipe()
    demo_load()
    assert snapshot() == first


@pytest.mark.django_db
def test_a_citizen_added_later_joins_on_the_next_load(demo_city: None, citizen: Any) -> None:
    demo_load()
    businesses = Business.objects.count()
    User.objects.filter(pk=citizen.pk).update(home_unit=None)
    Person.objects.filter(personal_id=citizen.personal_id).delete()
    before = Person.objects.count()
    demo_load()
    person = Person.objects.get(personal_id=citizen.personal_id)
    assert person.full_name == citizen.full_name
    assert 2 <= Person.objects.filter(household=person.household).count() <= 5
    assert Person.objects.count() > before
    assert Business.objects.count() == businesses
