"""The shared configuration (export, idempotent import, the CLI, the node key) and the demo."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from joserfc.jwk import OKPKey

from thudo.exchange import config, keys
from thudo.exchange.client import call
from thudo.exchange.models import Grant, Member, Node, Service, System

from .test_protocol import PERSON, PORTAL, PURPOSE, Exchange, exchange, node_key

__all__ = ["exchange", "node_key"]

pytestmark = pytest.mark.django_db


def test_export_then_import_is_idempotent_and_updates_what_changed(exchange: Exchange) -> None:
    data = config.export_config()
    assert {n["code"] for n in data["nodes"]} == {"hanoi"}
    assert data["nodes"][0]["public_jwk"] == keys.node_public_jwk()
    assert PERSON in {s["identifier"] for s in data["services"]}
    app = next(s for s in data["systems"] if s["identifier"] == "VN/GOV/HN-UBND/APP")
    assert app["public_jwk"] == exchange.client.public_jwk and "d" not in app["public_jwk"]
    assert len(data["grants"]) == Grant.objects.count()

    assert config.import_config(data) == {
        "nodes": 0,
        "members": 0,
        "systems": 0,
        "services": 0,
        "grants": 0,
    }

    other = OKPKey.generate_key("Ed25519")
    data["nodes"].append(
        {
            "code": "ndxp",
            "name": "NDXP",
            "base_url": "http://ndxp.test/",
            "public_jwk": keys.public_jwk(other),
        }
    )
    data["members"].append({"identifier": "VN/GOV/BHXH", "name": "BHXH"})
    data["systems"].append({"identifier": "VN/GOV/BHXH/CSDLBH", "name": "CSDL BH", "node": "ndxp"})
    data["services"].append(
        {
            "identifier": "VN/GOV/BHXH/CSDLBH/insurance",
            "name": "Bảo hiểm",
            "target": "handler:registries.insurance.insurance",
            "personal_data": True,
        }
    )
    data["grants"].append(
        {"service": "VN/GOV/BHXH/CSDLBH/insurance", "client": PORTAL, "legal_basis": "NĐ 47"}
    )
    person = next(s for s in data["services"] if s["identifier"] == PERSON)
    person["name"] = "Tra cứu công dân"
    changed = config.import_config(data)
    assert changed == {"nodes": 1, "members": 1, "systems": 1, "services": 2, "grants": 1}
    assert Node.objects.get(code="ndxp").base_url == "http://ndxp.test"
    assert Service.objects.get(pk=exchange.person.pk).name == "Tra cứu công dân"
    assert System.objects.get(code="CSDLBH").node.code == "ndxp"
    assert config.import_config(data)["grants"] == 0  # grants matched, not duplicated


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["nodes"][0]["public_jwk"].update(d="secret"), "private key"),
        (
            lambda d: d["systems"].append(
                {"identifier": "VN/GOV/NOPE/X", "name": "x", "node": "hanoi"}
            ),
            "not known",
        ),
        (
            lambda d: d["services"].append(
                {"identifier": "VN/GOV/BCA/CSDLQGDC/x", "name": "x", "target": "ftp://x"}
            ),
            "target",
        ),
        (
            lambda d: d["grants"].append(
                {"service": "VN/GOV/BCA/CSDLQGDC/none", "client": PORTAL, "legal_basis": "x"}
            ),
            "not known",
        ),
        (lambda d: d.update(version=2), "version"),
    ],
)
def test_a_bad_configuration_changes_nothing(exchange: Exchange, mutate: Any, message: str) -> None:
    data = config.export_config()
    data["members"].append({"identifier": "VN/GOV/NEW", "name": "Mới"})
    mutate(data)
    with pytest.raises(config.ConfigError) as caught:
        config.import_config(data)
    assert message in str(caught.value)
    assert not Member.objects.filter(code="NEW").exists()


def test_the_cli_exports_imports_and_prints_the_node_key(
    exchange: Exchange, tmp_path: Path
) -> None:
    target = tmp_path / "exchange.json"
    out = io.StringIO()
    call_command("exchange", "config", "export", str(target), stdout=out)
    exported = json.loads(target.read_text())
    assert PERSON in {s["identifier"] for s in exported["services"]}

    exported["members"].append({"identifier": "VN/GOV/BTC", "name": "Bộ Tài chính"})
    target.write_text(json.dumps(exported, ensure_ascii=False))
    out = io.StringIO()
    call_command("exchange", "config", "import", str(target), stdout=out)
    assert "members 1" in out.getvalue()
    assert Member.objects.filter(code="BTC").exists()

    out = io.StringIO()
    call_command("exchange", "node-key", stdout=out)
    jwk = json.loads(out.getvalue())
    assert jwk == keys.node_public_jwk() and "d" not in jwk

    out = io.StringIO()
    call_command("exchange", "config", "export", stdout=out)
    assert json.loads(out.getvalue())["version"] == 1


def test_the_demo_is_idempotent_and_serves_the_registries_in_process(
    db: Any, settings: Any
) -> None:
    from thudo.exchange.demo import demo_load

    settings.EXCHANGE_NODE_URL = "http://127.0.0.1:8000"
    out = io.StringIO()
    demo_load(stdout=out)
    counts = (
        Node.objects.count(),
        System.objects.count(),
        Service.objects.count(),
        Grant.objects.count(),
    )
    demo_load()
    assert (
        Node.objects.count(),
        System.objects.count(),
        Service.objects.count(),
        Grant.objects.count(),
    ) == counts
    node = Node.objects.get(code="hanoi")
    assert node.base_url == "http://127.0.0.1:8000"
    assert node.public_jwk == keys.node_public_jwk()
    portal = System.objects.select_related("user").get(code="PORTAL")
    assert portal.identifier == PORTAL
    assert portal.user is not None and portal.user.username == "system.portal"
    assert portal.user.kind == "system" and not portal.user.has_usable_password()
    try:
        from thudo.registries.catalogue import CLIENT_GRANTS
    except ImportError:
        pytest.skip("the registries' catalogue is not installed")
    assert Grant.objects.filter(client=portal).count() == len(CLIENT_GRANTS)
    assert set(System.objects.values_list("node__code", flat=True)) == {"hanoi"}
    # A person the registry does not hold: the registry's own 404, through both sides.
    result = call(
        system=PORTAL,
        service=PERSON,
        path="person/001099999999",
        purpose=PURPOSE,
        subject="001099999999",
    )
    assert result.status == 404
    assert result.log_index is not None and result.provider_log_index is not None
