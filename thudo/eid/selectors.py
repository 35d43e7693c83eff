"""What the demo identity provider reads from the population registry (ADR 0018: the provider
belongs to the population data owner and reads its registry directly, not through the
exchange)."""

from __future__ import annotations

from typing import Any

from thudo.accounts.models import User
from thudo.registries.models import Person

LEVELS = (1, 2)
ACR_PREFIX = "urn:vn:vneid:loa:"


def acr_for(level: int) -> str:
    return f"{ACR_PREFIX}{level}"


def level_from_acr(acr: Any) -> int:
    """1 or 2 for "urn:vn:vneid:loa:1|2"; 0 for anything else."""
    if isinstance(acr, str) and acr.startswith(ACR_PREFIX):
        tail = acr[len(ACR_PREFIX) :]
        if tail in {"1", "2"}:
            return int(tail)
    return 0


def eligible_person(personal_id: str) -> Person | None:
    """The living resident with an activated e-ID (level 1 or 2), else None."""
    if not personal_id:
        return None
    return (
        Person.objects.select_related("household__ward__parent")
        .filter(personal_id=personal_id, eid_level__in=LEVELS, died_on__isnull=True)
        .first()
    )


def provider_account(personal_id: str) -> User | None:
    """The active citizen account whose password the demo provider checks."""
    if not personal_id:
        return None
    return User.objects.filter(
        personal_id=personal_id, kind=User.Kind.CITIZEN, is_active=True
    ).first()


def person_claims(person: Person) -> dict[str, Any]:
    """The OpenID Connect claims about a resident, from the population registry."""
    household = person.household
    address: dict[str, str] = {"country": "Việt Nam"}
    if household is not None:
        ward = household.ward
        province = ward.parent
        parts = [household.address, ward.name, province.name if province else ""]
        address.update(
            formatted=", ".join(p for p in parts if p),
            street_address=household.address,
            locality=ward.name,
        )
        if province is not None:
            address["region"] = province.name
    return {
        "name": person.full_name,
        "birthdate": person.birth_date.isoformat(),
        "gender": person.sex,
        "address": address,
        "vneid_level": person.eid_level,
        "acr": acr_for(person.eid_level),
    }
