"""The log's JSON API and the proof page."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from thudo.accounts.roles import Role
from thudo.accounts.testing import login_verified
from thudo.exchange import keys, log, merkle
from thudo.exchange.models import LogEntry

pytestmark = pytest.mark.django_db

SUBJECT = "001090123456"  # the conftest citizen's personal ID


@pytest.fixture(autouse=True)
def node_key(tmp_path: Path, settings: Any) -> Iterator[None]:
    settings.EXCHANGE_NODE_KEY_FILE = str(tmp_path / "node-key.json")
    settings.EXCHANGE_NODE_CODE = "hanoi"
    keys.reset_cache()
    yield
    keys.reset_cache()


def fill(n: int, subject: str = SUBJECT) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for i in range(n):
        data = {
            "v": 1,
            "mid": f"msg-{i}",
            "side": "client",
            "purpose": "Đăng ký khai sinh",
            "subject": subject,
            "service": "VN/GOV/BCA/CSDLQGDC/person",
            "time": "2026-11-23T03:00:00Z",
            "status": 200,
        }
        log.append(message_id=f"msg-{i}", kind="exchange", subject=subject, entry=data)
        tree.append(merkle.leaf_hash(keys.canonical_json(data)))
    return tree


def get_json(client: Client, name: str, query: str = "", *args: Any) -> tuple[int, Any]:
    response = client.get(reverse(f"exchange_log:{name}", args=args) + query)
    assert response["Content-Type"].startswith("application/json")
    return response.status_code, json.loads(response.content)


def b(text: str) -> bytes:
    return base64.b64decode(text)


def test_sth_and_proofs_verify_independently(client: Client) -> None:
    assert get_json(client, "sth")[1]["error"]["code"] == "no_tree_head"
    tree = fill(11)
    log.sign_tree_head()
    status, sth = get_json(client, "sth")
    assert status == 200
    assert sth["tree_size"] == 11 and sth["node"] == "hanoi"
    assert b(sth["root_hash"]) == tree.root()
    claims = keys.verify(sth["signature"], keys.node_public_jwk())
    assert claims == {
        "typ": "thudo-sth",
        **{k: sth[k] for k in ("node", "tree_size", "root_hash", "timestamp")},
    }
    assert get_json(client, "sth_size", "", 11)[1] == sth
    assert get_json(client, "sth_size", "", 10)[0] == 404

    for index in range(11):
        status, proof = get_json(client, "inclusion", f"?index={index}")
        assert status == 200 and proof["tree_size"] == 11 and proof["leaf_index"] == index
        assert b(proof["leaf_hash"]) == tree.get((0, index))
        path = [b(h) for h in proof["audit_path"]]
        assert merkle.verify_inclusion(b(proof["leaf_hash"]), index, 11, path, tree.root())
        assert proof["root_hash"] == sth["root_hash"]
    # By leaf hash, URL-safe or with '+' turned into a space by a form encoder.
    leaf = base64.b64encode(tree.get((0, 7))).decode()
    for form in (leaf, leaf.replace("+", " "), base64.urlsafe_b64encode(tree.get((0, 7))).decode()):
        status, proof = get_json(client, "inclusion", f"?hash={form}")
        assert status == 200 and proof["leaf_index"] == 7, form
    # An explicit older tree size.
    status, proof = get_json(client, "inclusion", "?index=2&tree_size=5")
    assert status == 200 and b(proof["root_hash"]) == tree.root(5)

    status, body = get_json(client, "consistency", "?first=4")
    assert status == 200 and body["first"] == 4 and body["second"] == 11
    assert merkle.verify_consistency(
        4, 11, tree.root(4), tree.root(), [b(h) for h in body["consistency"]]
    )
    status, body = get_json(client, "consistency", "?first=3&second=9")
    assert merkle.verify_consistency(
        3, 9, tree.root(3), tree.root(9), [b(h) for h in body["consistency"]]
    )


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("", 400, "bad_parameter", "index"),
        ("?index=abc", 400, "bad_parameter", "index"),
        ("?index=-1", 400, "bad_parameter", "index"),
        ("?index=1&hash=AAAA", 400, "bad_parameter", "hash"),
        ("?hash=notbase64!", 400, "bad_parameter", "hash"),
        ("?hash=" + "A" * 43, 404, "unknown_hash", "hash"),
        ("?index=99", 404, "unknown_index", ""),
        ("?index=6", 404, "not_in_tree_head", "index"),  # logged after the latest head
        ("?index=5&tree_size=5", 400, "bad_parameter", "index"),
        ("?index=1&tree_size=50", 404, "unknown_tree_size", "tree_size"),
    ],
)
def test_inclusion_errors(client: Client, query: str, status: int, code: str, field: str) -> None:
    fill(5)
    log.sign_tree_head()
    fill(2)
    got, body = get_json(client, "inclusion", query)
    assert got == status
    assert body["error"]["code"] == code and body["error"]["field"] == field
    assert body["error"]["message"]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, "bad_parameter"),
        ("?first=x", 400, "bad_parameter"),
        ("?first=6", 400, "bad_parameter"),  # after the latest head (5)
        ("?first=2&second=40", 404, "unknown_tree_size"),
    ],
)
def test_consistency_errors(client: Client, query: str, status: int, code: str) -> None:
    fill(5)
    log.sign_tree_head()
    got, body = get_json(client, "consistency", query)
    assert (got, body["error"]["code"]) == (status, code)


def test_api_errors_speak_the_visitors_language(client: Client) -> None:
    client.cookies["thudo_language"] = "en"
    _, body = get_json(client, "inclusion", "?index=abc")
    assert body["error"]["message"] == "Give a whole number from 0 (digits only)."


# --- The proof page --------------------------------------------------------------------------


def page(client: Client, index: int) -> str:
    client.cookies["thudo_language"] = "en"
    response = client.get(reverse("exchange_log:proof", kwargs={"index": index}))
    assert response.status_code == 200
    return response.content.decode()


def test_the_proof_page_shows_hashes_to_anyone_and_the_entry_only_to_its_subject(
    client: Client, citizen: Any
) -> None:
    tree = fill(6)
    log.sign_tree_head()
    html = page(client, 3)
    assert 'data-verdict="ok"' in html
    assert "This access is recorded in the log and the log" in html
    assert "signed head includes it." in html
    assert tree.get((0, 3)).hex() in html
    assert base64.b64encode(tree.root()).decode() in html
    for h in tree.inclusion_proof(3):
        assert base64.b64encode(h).decode() in html
    assert "Valid: signed with this node" in html
    assert "/exchange/log/proof/inclusion?index=3&amp;tree_size=6" in html
    assert "Đăng ký khai sinh" not in html and "msg-3" not in html  # the entry stays hidden

    client.force_login(citizen)
    html = page(client, 3)
    assert "Đăng ký khai sinh" in html and "msg-3" in html
    assert "Purpose (legal basis)" in html


def test_other_citizens_and_plain_officials_see_only_hashes_operators_see_the_entry(
    client: Client, make_agency: Any, make_official: Any
) -> None:
    from thudo.accounts import services

    fill(2)
    log.sign_tree_head()
    other = services.citizen_create(
        personal_id="001191999999",
        full_name="Trần Thị B",
        sex="female",
        birth_date=__import__("datetime").date(1991, 1, 1),
        password="citizen-pass-1",
    )
    client.force_login(other)
    assert "Đăng ký khai sinh" not in page(client, 1)

    agency = make_agency()
    clerk = make_official(role=Role.RECEIVING_OFFICER, agency=agency)
    login_verified(client, clerk)
    assert "Đăng ký khai sinh" not in page(client, 1)

    auditor = make_official(role=Role.AUDITOR, agency=agency)
    client.force_login(auditor)  # no second factor yet: not trusted as an operator
    assert "Đăng ký khai sinh" not in page(client, 1)
    login_verified(client, auditor)
    assert "Đăng ký khai sinh" in page(client, 1)


def test_the_proof_page_says_when_no_head_includes_the_entry_yet(client: Client) -> None:
    fill(3)
    log.sign_tree_head()
    fill(1)
    html = page(client, 3)
    assert 'data-verdict="pending"' in html and "no signed head includes it yet" in html
    assert client.get(reverse("exchange_log:proof", kwargs={"index": 4})).status_code == 404


def test_the_proof_page_shows_a_problem_for_an_edited_entry(client: Client) -> None:
    fill(4)
    log.sign_tree_head()
    LogEntry.objects.filter(index=1).update(entry='{"forged":true}')
    html = page(client, 1)
    assert 'data-verdict="problem"' in html
    assert "content no longer matches its leaf hash" in html
    assert 'data-verdict="ok"' in page(client, 2)


def test_the_proof_page_fits_a_phone_and_labels_its_regions(client: Client) -> None:
    fill(2)
    log.sign_tree_head()
    html = page(client, 0)
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    assert "exchange/log.css" in html
    # Long hashes and code wrap (log-hash, log-code): nothing forces the page wider.
    assert html.count('<pre class="log-code">') == 2 and "<table" not in html
    assert html.count('class="log-hash') >= 6
