"""The shared configuration of the exchange: which nodes exist (address, public key), the members,
their systems (public keys for client assertions), the services (OpenAPI, target) and the grants.

Every node holds the same configuration: one node exports it (`thudo exchange config export`),
the others import the file (`thudo exchange config import FILE`). Import is an idempotent upsert
by identifiers: importing the same file twice changes nothing, a changed file updates what
changed; nothing is deleted (deactivate instead: "is_active": false). Grants are matched by
(service, client, granted_at), or when the file has no granted_at, by (service, client, legal
basis) among the grants not revoked.

Format (version 1):

    {"version": 1,
     "nodes":    [{"code", "name", "base_url", "public_jwk", "is_active"}],
     "members":  [{"identifier": "VN/GOV/BCA", "name", "name_en", "agency": "<code>"|"",
                   "is_active"}],
     "systems":  [{"identifier": "VN/GOV/BCA/CSDLQGDC", "name", "name_en", "node": "ndxp",
                   "public_jwk", "is_active"}],
     "services": [{"identifier": "VN/GOV/BCA/CSDLQGDC/person", "name", "name_en", "version",
                   "description", "description_en", "openapi", "target", "personal_data",
                   "timeout_s", "is_active"}],
     "grants":   [{"service", "client", "legal_basis", "granted_at", "expires_at",
                   "revoked_at", "revoke_reason"}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from thudo.accounts.models import Agency
from thudo.core.audit import audit_record

from . import keys
from . import protocol as p
from .models import Grant, Member, Node, Service, System
from .node import node_code

FORMAT_VERSION = 1
IMPORT_ACTOR = "config import"


class ConfigError(ValueError):
    """The configuration file is not valid; the message names the entry and the field."""


# --- export ---------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def export_config() -> dict[str, Any]:
    """Everything another node needs to know about this exchange (no private keys)."""
    this = node_code()
    nodes = [
        {
            "code": n.code,
            "name": n.name,
            "base_url": n.base_url,
            "public_jwk": keys.node_public_jwk() if n.code == this else n.public_jwk,
            "is_active": n.is_active,
        }
        for n in Node.objects.order_by("code")
    ]
    members = [
        {
            "identifier": m.identifier,
            "name": m.name,
            "name_en": m.name_en,
            "agency": m.agency.code if m.agency else "",
            "is_active": m.is_active,
        }
        for m in Member.objects.select_related("agency").order_by(
            "instance", "member_class", "code"
        )
    ]
    systems = [
        {
            "identifier": s.identifier,
            "name": s.name,
            "name_en": s.name_en,
            "node": s.node.code,
            "public_jwk": s.public_jwk,
            "is_active": s.is_active,
        }
        for s in System.objects.select_related("member", "node").order_by("member__code", "code")
    ]
    services = [
        {
            "identifier": s.identifier,
            "name": s.name,
            "name_en": s.name_en,
            "version": s.version,
            "description": s.description,
            "description_en": s.description_en,
            "openapi": s.openapi,
            "target": s.target,
            "personal_data": s.personal_data,
            "timeout_s": s.timeout_s,
            "is_active": s.is_active,
        }
        for s in Service.objects.select_related("system__member").order_by(
            "system__member__code", "system__code", "code"
        )
    ]
    grants = [
        {
            "service": g.service.identifier,
            "client": g.client.identifier,
            "legal_basis": g.legal_basis,
            "granted_at": _iso(g.granted_at),
            "expires_at": _iso(g.expires_at),
            "revoked_at": _iso(g.revoked_at),
            "revoke_reason": g.revoke_reason,
        }
        for g in Grant.objects.select_related("service__system__member", "client__member").order_by(
            "granted_at", "pk"
        )
    ]
    return {
        "version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "exported_by": this,
        "nodes": nodes,
        "members": members,
        "systems": systems,
        "services": services,
        "grants": grants,
    }


def export_json() -> str:
    return json.dumps(export_config(), ensure_ascii=False, indent=2, sort_keys=False) + "\n"


# --- import: one upsert per kind, each by its identifier ---------------------------------------


def _str(entry: Mapping[str, Any], name: str, where: str, *, required: bool = True) -> str:
    value = entry.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {name} must be a string")
    if required and not value.strip():
        raise ConfigError(f"{where}: {name} is required")
    return value.strip()


def _public_jwk(value: Any, where: str) -> dict[str, Any]:
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: public_jwk must be a JWK object")
    if "d" in value:
        raise ConfigError(f"{where}: public_jwk contains a private key (d); export the public key")
    try:
        keys.import_jwk(value)
    except Exception as exc:
        raise ConfigError(f"{where}: public_jwk is not an Ed25519 or P-256 key ({exc})") from exc
    return dict(value)


def _moment(value: Any, where: str, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    moment = parse_datetime(str(value))
    if moment is None:
        raise ConfigError(f"{where}: {name} is not an ISO 8601 date-time")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def _update(obj: Any, values: Mapping[str, Any]) -> bool:
    """Set the changed values; True when something changed (then the caller saves)."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def upsert_node(
    *, code: str, name: str, base_url: str, public_jwk: Mapping[str, Any], is_active: bool = True
) -> tuple[Node, bool]:
    """(node, whether it was created or changed)."""
    values = {
        "name": name or code,
        "base_url": base_url.rstrip("/"),
        "public_jwk": dict(public_jwk),
        "is_active": is_active,
    }
    node, created = Node.objects.get_or_create(code=code, defaults=values)
    if not created and _update(node, values):
        node.save()
        return node, True
    return node, created


def upsert_member(
    *,
    identifier: str,
    name: str,
    name_en: str = "",
    agency: Agency | None = None,
    is_active: bool = True,
) -> tuple[Member, bool]:
    parts = identifier.split("/")
    if len(parts) != 3 or not all(p.SEGMENT_RE.match(x) for x in parts):
        raise ConfigError(f"member {identifier!r}: the identifier must be instance/class/code")
    instance, member_class, code = parts
    if member_class not in Member.MemberClass.values:
        raise ConfigError(f"member {identifier!r}: the class must be GOV, COM or NGO")
    values = {"name": name, "name_en": name_en, "agency": agency, "is_active": is_active}
    member, created = Member.objects.get_or_create(
        instance=instance, member_class=member_class, code=code, defaults=values
    )
    if not created and _update(member, values):
        member.save()
        return member, True
    return member, created


def _member_of(identifier: str, where: str) -> tuple[Member, str]:
    try:
        ident = p.parse_system(identifier)
    except ValueError:
        raise ConfigError(f"{where}: the identifier must be instance/class/member/system") from None
    member = Member.objects.filter(
        instance=ident.instance, member_class=ident.member_class, code=ident.member
    ).first()
    if member is None:
        raise ConfigError(
            f"{where}: member {ident.instance}/{ident.member_class}/"
            f"{ident.member} is not known (list it under members)"
        )
    return member, ident.system


def upsert_system(
    *,
    identifier: str,
    name: str,
    node: Node,
    name_en: str = "",
    public_jwk: Mapping[str, Any] | None = None,
    is_active: bool = True,
    user: Any = None,
) -> tuple[System, bool]:
    member, code = _member_of(identifier, f"system {identifier!r}")
    values: dict[str, Any] = {
        "name": name,
        "name_en": name_en,
        "node": node,
        "is_active": is_active,
    }
    if public_jwk is not None:
        values["public_jwk"] = dict(public_jwk)
    if user is not None:
        values["user"] = user
    system, created = System.objects.get_or_create(member=member, code=code, defaults=values)
    if not created and _update(system, values):
        system.save()
        return system, True
    return system, created


def upsert_service(*, identifier: str, values: Mapping[str, Any]) -> tuple[Service, bool]:
    where = f"service {identifier!r}"
    try:
        ident = p.parse_service(identifier)
    except ValueError:
        raise ConfigError(f"{where}: the identifier must have 5 segments") from None
    system = _system(ident.system_identifier, where)
    target = str(values.get("target") or "")
    if not (target.startswith("handler:") or target.startswith(("http://", "https://"))):
        raise ConfigError(f"{where}: target must be handler:<key> or an http(s) URL")
    service, created = Service.objects.get_or_create(
        system=system, code=ident.service, defaults=dict(values)
    )
    if not created and _update(service, values):
        service.save()
        return service, True
    return service, created


def _system(identifier: str, where: str) -> System:
    try:
        ident = p.parse_system(identifier)
    except ValueError:
        raise ConfigError(f"{where}: {identifier!r} is not a system identifier") from None
    system = (
        System.objects.select_related("member")
        .filter(
            member__instance=ident.instance,
            member__member_class=ident.member_class,
            member__code=ident.member,
            code=ident.system,
        )
        .first()
    )
    if system is None:
        raise ConfigError(f"{where}: system {identifier} is not known (list it under systems)")
    return system


def _service(identifier: str, where: str) -> Service:
    try:
        ident = p.parse_service(identifier)
    except ValueError:
        raise ConfigError(f"{where}: {identifier!r} is not a service identifier") from None
    service = Service.objects.filter(
        system__member__instance=ident.instance,
        system__member__member_class=ident.member_class,
        system__member__code=ident.member,
        system__code=ident.system,
        code=ident.service,
    ).first()
    if service is None:
        raise ConfigError(f"{where}: service {identifier} is not known (list it under services)")
    return service


def upsert_grant(
    *,
    service: Service,
    client: System,
    legal_basis: str,
    granted_at: datetime | None = None,
    expires_at: datetime | None = None,
    revoked_at: datetime | None = None,
    revoke_reason: str = "",
    actor: str = IMPORT_ACTOR,
) -> tuple[Grant, bool]:
    if granted_at is not None:
        grant = Grant.objects.filter(service=service, client=client, granted_at=granted_at).first()
    else:
        grant = Grant.objects.filter(
            service=service, client=client, legal_basis=legal_basis, revoked_at__isnull=True
        ).first()
    if grant is None:
        grant = Grant.objects.create(
            service=service,
            client=client,
            legal_basis=legal_basis,
            granted_at=granted_at or timezone.now(),
            expires_at=expires_at,
            revoked_at=revoked_at,
            revoke_reason=revoke_reason,
        )
        audit_record(
            actor=actor,
            action="exchange.grant.create",
            obj=grant,
            to_state="revoked" if revoked_at else "valid",
            data={"service": service.identifier, "client": client.identifier},
        )
        return grant, True
    values: dict[str, Any] = {"legal_basis": legal_basis, "expires_at": expires_at}
    if revoked_at is not None and grant.revoked_at is None:
        values.update(revoked_at=revoked_at, revoke_reason=revoke_reason)
    if _update(grant, values):
        grant.save()
        audit_record(
            actor=actor,
            action="exchange.grant.revoke" if "revoked_at" in values else "exchange.grant.update",
            obj=grant,
            to_state="revoked" if grant.revoked_at else "valid",
            data={"service": service.identifier, "client": client.identifier},
        )
        return grant, True
    return grant, False


def _entries(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = data.get(name, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigError(f"{name} must be a list of objects")
    return items


@transaction.atomic
def import_config(data: Any) -> dict[str, int]:
    """Upsert everything in `data` (the export format); returns how many entries of each kind
    were created or changed. All or nothing: a ConfigError leaves the database unchanged."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a JSON object")
    if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ConfigError(f"version must be {FORMAT_VERSION}")
    changed = {"nodes": 0, "members": 0, "systems": 0, "services": 0, "grants": 0}
    nodes: dict[str, Node] = {}
    for i, entry in enumerate(_entries(data, "nodes")):
        where = f"nodes[{i}]"
        code = _str(entry, "code", where)
        base_url = _str(entry, "base_url", where)
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: base_url must be an http(s) URL")
        node, did = upsert_node(
            code=code,
            name=_str(entry, "name", where, required=False),
            base_url=base_url,
            public_jwk=_public_jwk(entry.get("public_jwk"), where),
            is_active=bool(entry.get("is_active", True)),
        )
        nodes[code] = node
        changed["nodes"] += did
    for i, entry in enumerate(_entries(data, "members")):
        where = f"members[{i}]"
        agency_code = _str(entry, "agency", where, required=False)
        agency = Agency.objects.filter(code=agency_code).first() if agency_code else None
        _member, did = upsert_member(
            identifier=_str(entry, "identifier", where),
            name=_str(entry, "name", where),
            name_en=_str(entry, "name_en", where, required=False),
            agency=agency,
            is_active=bool(entry.get("is_active", True)),
        )
        changed["members"] += did
    for i, entry in enumerate(_entries(data, "systems")):
        where = f"systems[{i}]"
        node_code = _str(entry, "node", where)
        found = nodes.get(node_code) or Node.objects.filter(code=node_code).first()
        if found is None:
            raise ConfigError(f"{where}: node {node_code!r} is not known (list it under nodes)")
        _sys, did = upsert_system(
            identifier=_str(entry, "identifier", where),
            name=_str(entry, "name", where),
            name_en=_str(entry, "name_en", where, required=False),
            node=found,
            public_jwk=_public_jwk(entry.get("public_jwk"), where),
            is_active=bool(entry.get("is_active", True)),
        )
        changed["systems"] += did
    for i, entry in enumerate(_entries(data, "services")):
        where = f"services[{i}]"
        openapi = entry.get("openapi") or {}
        if not isinstance(openapi, dict):
            raise ConfigError(f"{where}: openapi must be a JSON object")
        try:
            timeout = float(entry.get("timeout_s", 10.0))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: timeout_s must be a number") from None
        if not 0 < timeout <= 300:
            raise ConfigError(f"{where}: timeout_s must be between 0 and 300 seconds")
        values = {
            "name": _str(entry, "name", where),
            "name_en": _str(entry, "name_en", where, required=False),
            "version": _str(entry, "version", where, required=False) or "v1",
            "description": _str(entry, "description", where, required=False),
            "description_en": _str(entry, "description_en", where, required=False),
            "openapi": openapi,
            "target": _str(entry, "target", where),
            "personal_data": bool(entry.get("personal_data", False)),
            "timeout_s": timeout,
            "is_active": bool(entry.get("is_active", True)),
        }
        _svc, did = upsert_service(identifier=_str(entry, "identifier", where), values=values)
        changed["services"] += did
    for i, entry in enumerate(_entries(data, "grants")):
        where = f"grants[{i}]"
        _grant, did = upsert_grant(
            service=_service(_str(entry, "service", where), where),
            client=_system(_str(entry, "client", where), where),
            legal_basis=_str(entry, "legal_basis", where),
            granted_at=_moment(entry.get("granted_at"), where, "granted_at"),
            expires_at=_moment(entry.get("expires_at"), where, "expires_at"),
            revoked_at=_moment(entry.get("revoked_at"), where, "revoked_at"),
            revoke_reason=_str(entry, "revoke_reason", where, required=False),
        )
        changed["grants"] += did
    return changed
