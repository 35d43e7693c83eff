from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from thudo.core.errors import PermissionDenied
from thudo.core.units import unit_get

from . import selectors, services
from .models import Agency, User
from .permissions import can, permissions
from .roles import Perm
from .schemas import AgencyOut, CitizenIn, CitizenOut, MembershipOut, MeOut

router = Router(tags=["accounts"])


@router.get("/me", response=MeOut, summary="The caller: identity, roles and permissions")
def me(request: HttpRequest) -> MeOut:
    user: User = request.user  # type: ignore[assignment]
    roles = [
        MembershipOut(agency=m.agency.code, agency_name=m.agency.name, role=m.role)
        for m in selectors.memberships_of(user)
    ]
    return MeOut(
        username=user.username,
        full_name=user.full_name,
        kind=user.kind,
        personal_id=user.personal_id,
        birth_date=user.birth_date,
        roles=roles,
        permissions=sorted(permissions(user)),
    )


def _agency_out(a: Agency) -> AgencyOut:
    return AgencyOut(
        code=a.code,
        name=a.name,
        name_en=a.name_en,
        kind=a.kind,
        parent=a.parent.code if a.parent else None,
        admin_unit=a.admin_unit.code,
    )


@router.get(
    "/agencies",
    response=list[AgencyOut],
    auth=None,
    summary="Agencies (public), by kind or administrative unit",
)
def agencies(
    request: HttpRequest, kind: str | None = None, unit: str | None = None
) -> list[AgencyOut]:
    return [_agency_out(a) for a in selectors.agency_list(kind=kind, unit_code=unit)[:500]]


@router.get("/agencies/{code}", response=AgencyOut, auth=None)
def agency(request: HttpRequest, code: str) -> AgencyOut:
    return _agency_out(selectors.agency_get(code=code))


@router.post(
    "/citizens",
    response={201: CitizenOut},
    summary="Register a citizen (agency administrators and systems with that right)",
)
def citizen_register(request: HttpRequest, payload: CitizenIn) -> Status:
    if not can(request.user, Perm.STAFF_MANAGE):
        raise PermissionDenied()
    user = services.citizen_create(
        personal_id=payload.personal_id,
        full_name=payload.full_name,
        sex=payload.sex,
        birth_date=payload.birth_date,
        password=payload.password,
        home_unit=unit_get(payload.home_unit) if payload.home_unit else None,
        actor=request.user,
    )
    return Status(
        201,
        CitizenOut(
            username=user.username, full_name=user.full_name, personal_id=user.personal_id or ""
        ),
    )
