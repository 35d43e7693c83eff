"""The demo exchange (DemoStep order 84, idempotent): everything on this one node.

* Node "hanoi" (settings.EXCHANGE_NODE_CODE) at settings.EXCHANGE_NODE_URL (default
  http://127.0.0.1:8000) with this node's public key;
* member VN/GOV/HN-UBND (Hanoi People's Committee; agency HN-UBND, else the demo's city
  committee "HN") with its system PORTAL (the public service portal), acting as the system
  account "system.portal";
* the base registries' providers from thudo.registries.catalogue.PROVIDERS (BCA, BTC,
  HN-SNNMT, BHXH, ...), their systems and services, all hosted on this node, so calls are
  served in process (still signed, checked and logged on both sides);
* the portal's grants from thudo.registries.catalogue.CLIENT_GRANTS.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from thudo.accounts.models import Agency, User

from . import keys
from .config import upsert_grant, upsert_member, upsert_node, upsert_service, upsert_system
from .models import Grant, Service, System
from .node import node_code
from .selectors import valid_grants_q

PORTAL = "VN/GOV/HN-UBND/PORTAL"
PORTAL_USERNAME = "system.portal"
NODE_NAMES = {
    "hanoi": "Nền tảng tích hợp, chia sẻ dữ liệu Hà Nội (LGSP)",
    "ndxp": "Nền tảng tích hợp, chia sẻ dữ liệu quốc gia (NDXP)",
}
DEMO_ACTOR = "demo"


def _agency(*codes: str) -> Agency | None:
    for code in codes:
        if code and (agency := Agency.objects.filter(code=code).first()):
            return agency
    return None


def _portal_user() -> User:
    user, created = User.objects.get_or_create(
        username=PORTAL_USERNAME,
        defaults={
            "kind": User.Kind.SYSTEM,
            "full_name": "Cổng dịch vụ công Hà Nội",
            "email": "portal@demo.thudo.vn",
        },
    )
    if created:
        user.set_unusable_password()  # it acts only inside Thudo, never signs in
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def demo_load(stdout: Any = None) -> None:
    code = node_code()
    node, _changed = upsert_node(
        code=code,
        name=NODE_NAMES.get(code, code),
        base_url=str(getattr(settings, "EXCHANGE_NODE_URL", "http://127.0.0.1:8000")),
        public_jwk=keys.node_public_jwk(),
    )
    member, _ = upsert_member(
        identifier="VN/GOV/HN-UBND",
        name="Ủy ban nhân dân thành phố Hà Nội",
        name_en="Hanoi People's Committee",
        agency=_agency("HN-UBND", "HN"),
    )
    portal, _ = upsert_system(
        identifier=PORTAL,
        name="Cổng dịch vụ công Hà Nội",
        name_en="Hanoi public service portal",
        node=node,
        user=_portal_user(),
    )
    try:
        from thudo.registries.catalogue import CLIENT_GRANTS, PROVIDERS
    except ImportError:  # the registries' catalogue is not installed: only the portal
        PROVIDERS, CLIENT_GRANTS = [], []
    services = 0
    for provider in PROVIDERS:
        m = provider["member"]
        identifier = f"VN/{m.get('member_class', 'GOV')}/{m['code']}"
        upsert_member(
            identifier=identifier,
            name=m["name"],
            name_en=m.get("name_en", ""),
            agency=_agency(m.get("agency_code", "")),
        )
        s = provider["system"]
        upsert_system(
            identifier=f"{identifier}/{s['code']}",
            name=s["name"],
            name_en=s.get("name_en", ""),
            node=node,
        )
        for svc in provider["services"]:
            upsert_service(
                identifier=f"{identifier}/{s['code']}/{svc['code']}",
                values={
                    "name": svc["name"],
                    "name_en": svc.get("name_en", ""),
                    "description": svc.get("description", ""),
                    "description_en": svc.get("description_en", ""),
                    "openapi": svc.get("openapi", {}),
                    "target": svc["target"],
                    "personal_data": bool(svc.get("personal_data", False)),
                    "timeout_s": float(svc.get("timeout_s", 10.0)),
                },
            )
            services += 1
    granted = 0
    for spec in CLIENT_GRANTS:
        service = _service(spec["service"])
        client = _system_by_identifier(spec["client"])
        if service is None or client is None:
            continue
        if Grant.objects.filter(valid_grants_q(), service=service, client=client).exists():
            continue
        upsert_grant(
            service=service, client=client, legal_basis=spec["legal_basis"], actor=DEMO_ACTOR
        )
        granted += 1
    if stdout is not None:
        stdout.write(
            f"exchange: node {code} at {node.base_url}, {member.identifier}/"
            f"{portal.code}, {services} registry services, {granted} new grants\n"
        )


def _system_by_identifier(identifier: str) -> System | None:
    parts = identifier.split("/")
    if len(parts) != 4:
        return None
    return System.objects.filter(
        member__instance=parts[0],
        member__member_class=parts[1],
        member__code=parts[2],
        code=parts[3],
    ).first()


def _service(identifier: str) -> Service | None:
    parts = identifier.split("/")
    if len(parts) != 5:
        return None
    return Service.objects.filter(
        system__member__instance=parts[0],
        system__member__member_class=parts[1],
        system__member__code=parts[2],
        system__code=parts[3],
        code=parts[4],
    ).first()
