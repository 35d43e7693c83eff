"""can(user, permission, agency): permissions follow from the roles a user holds per agency.

A role held in an agency also applies to the agencies below it in the tree (a department's
auditor can audit its sub-units), never above.
"""

from __future__ import annotations

from typing import Any

from .models import Agency, Membership
from .roles import ROLE_PERMISSIONS

_CACHE_ATTR = "_thudo_perm_cache"


def _grants(user: Any) -> dict[int, set[str]]:
    """{agency_id: permissions} for the user's own memberships, cached on the user object."""
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    grants: dict[int, set[str]] = {}
    for agency_id, role in Membership.objects.filter(user=user).values_list("agency_id", "role"):
        grants.setdefault(agency_id, set()).update(ROLE_PERMISSIONS.get(role, frozenset()))
    setattr(user, _CACHE_ATTR, grants)
    return grants


def permissions(user: Any) -> set[str]:
    """Every permission the user holds in at least one agency."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    return {p for perms in _grants(user).values() for p in perms}


def can(user: Any, permission: str, agency: Agency | None = None) -> bool:
    """Whether the user holds `permission` in `agency` (or in any agency when None)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    grants = _grants(user)
    if agency is None:
        return any(permission in perms for perms in grants.values())
    return any(permission in grants.get(n.pk, set()) for n in [agency, *agency.ancestors()])


def agencies_where(user: Any, permission: str) -> list[int]:
    """Ids of the agencies in which the user holds `permission`, including sub-agencies."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if user.is_superuser:
        return list(Agency.objects.values_list("id", flat=True))
    roots = [aid for aid, perms in _grants(user).items() if permission in perms]
    found = set(roots)
    frontier = roots
    while frontier:
        frontier = [
            a
            for a in Agency.objects.filter(parent_id__in=frontier).values_list("id", flat=True)
            if a not in found
        ]
        found.update(frontier)
    return sorted(found)


def clear_cache(user: Any) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)
