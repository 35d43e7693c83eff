"""Two real nodes on loopback, as separate processes that talk only over HTTP.

"hanoi" (the city node) hosts a client system whose private key this test holds; "ndxp" (the
national node) hosts the population database (VN/GOV/BCA/CSDLQGDC/person, answered by the
registries' real handler). Each node is a gunicorn process with its own SQLite file, key file
and var directory; both import the same shared configuration with `thudo exchange config
import`. A third node, "down", is in the configuration but nothing listens at its address.

The databases start as copies of the (already migrated) test database, so no migration runs
here; when the test database is not SQLite, each node runs `thudo migrate` instead (slower).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import KeySet, OKPKey

from thudo.exchange import keys

from .test_protocol import PID, b64url_sha256

ROOT = Path(__file__).resolve().parents[3]
CLIENT = "VN/GOV/HN-UBND/APP"
PERSON = "VN/GOV/BCA/CSDLQGDC/person"
INSURANCE = "VN/GOV/BHXH/CSDLBH/insurance"
PURPOSE = "1.001193 Đăng ký khai sinh; Nghị định 47/2020/NĐ-CP"
SETTINGS = "config.settings.test"
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NodeProcess:
    code: str
    url: str
    db: Path
    env: dict[str, str]
    key: OKPKey
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read this node's database directly (read-only; WAL lets it run beside the server)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
            return list(conn.execute(sql, params))


@dataclass
class TwoNodes:
    hanoi: NodeProcess
    ndxp: NodeProcess
    client_key: OKPKey


def _copy_test_database(targets: list[Path]) -> bool:
    """Copy the migrated test database into each file; False when it is not SQLite."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return False
    connection.ensure_connection()
    raw = connection.connection
    for target in targets:
        with contextlib.closing(sqlite3.connect(target)) as dest:
            raw.backup(dest)
    return True


def _thudo(node: NodeProcess, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "thudo.cli", *args],
        cwd=ROOT,
        env=node.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_all(procs: list[subprocess.Popen[bytes]], what: str) -> None:
    for proc in procs:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"{what} failed:\n{out.decode(errors='replace')}"


def _wait_ready(node: NodeProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert node.process is not None
        if node.process.poll() is not None:
            out = node.log.read_text(errors="replace")
            pytest.fail(f"node {node.code} exited:\n{out[-4000:]}")
        try:
            if httpx.get(f"{node.url}/exchange/r1/.well-known/jwks.json", timeout=1).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"node {node.code} did not start within {START_TIMEOUT} s")


def _config(hanoi: NodeProcess, ndxp: NodeProcess, client_key: OKPKey) -> dict[str, Any]:
    down_url = f"http://127.0.0.1:{free_port()}"
    return {
        "version": 1,
        "nodes": [
            {
                "code": "hanoi",
                "name": "LGSP Hà Nội",
                "base_url": hanoi.url,
                "public_jwk": keys.public_jwk(hanoi.key),
            },
            {
                "code": "ndxp",
                "name": "NDXP",
                "base_url": ndxp.url,
                "public_jwk": keys.public_jwk(ndxp.key),
            },
            {
                "code": "down",
                "name": "Không chạy",
                "base_url": down_url,
                "public_jwk": keys.public_jwk(OKPKey.generate_key("Ed25519")),
            },
        ],
        "members": [
            {"identifier": "VN/GOV/HN-UBND", "name": "UBND thành phố Hà Nội"},
            {"identifier": "VN/GOV/BCA", "name": "Bộ Công an"},
            {"identifier": "VN/GOV/BHXH", "name": "Bảo hiểm xã hội Việt Nam"},
        ],
        "systems": [
            {
                "identifier": CLIENT,
                "name": "Ứng dụng iHanoi",
                "node": "hanoi",
                "public_jwk": keys.public_jwk(client_key),
            },
            {"identifier": "VN/GOV/BCA/CSDLQGDC", "name": "CSDLQG về dân cư", "node": "ndxp"},
            {"identifier": "VN/GOV/BHXH/CSDLBH", "name": "CSDL bảo hiểm", "node": "down"},
        ],
        "services": [
            {
                "identifier": PERSON,
                "name": "Thông tin công dân",
                "target": "handler:registries.population.person",
                "personal_data": True,
                "timeout_s": 5,
            },
            {
                "identifier": INSURANCE,
                "name": "Bảo hiểm",
                "target": "handler:registries.insurance.insurance",
                "personal_data": True,
                "timeout_s": 2,
            },
        ],
        "grants": [
            {"service": PERSON, "client": CLIENT, "legal_basis": "Nghị định 47/2020/NĐ-CP"},
            {"service": INSURANCE, "client": CLIENT, "legal_basis": "Nghị định 47/2020/NĐ-CP"},
        ],
    }


LOAD_PERSON = """
import datetime
from django.core.management import call_command
from thudo.registries.models import Person
call_command("exchange", "config", "import", {path!r})
Person.objects.get_or_create(personal_id={pid!r}, defaults=dict(
    full_name="Nguyễn Văn An", birth_date=datetime.date(1990, 5, 17), sex="male", eid_level=2))
"""


@pytest.fixture(scope="module")
def two_nodes(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any
) -> Iterator[TwoNodes]:
    root = tmp_path_factory.mktemp("two-nodes")
    nodes = []
    for code in ("hanoi", "ndxp"):
        key = OKPKey.generate_key("Ed25519")
        var = root / code
        var.mkdir()
        key_file = var / "node-key.json"
        key_file.write_text(json.dumps({**key.as_dict(private=True), "kid": key.thumbprint()}))
        db = var / "db.sqlite3"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "THUDO_VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{db}",
            "EXCHANGE_NODE_CODE": code,
            "EXCHANGE_NODE_KEY_FILE": str(key_file),
            "SECRET_KEY": f"two-nodes-test-{code}-{uuid.uuid4().hex}",
            "CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("CACHE_URL", None)
        url = f"http://127.0.0.1:{free_port()}"
        nodes.append(NodeProcess(code, url, db, env, key, var / "server.log"))
    hanoi, ndxp = nodes
    client_key = OKPKey.generate_key("Ed25519")
    config = root / "exchange-config.json"
    config.write_text(json.dumps(_config(hanoi, ndxp, client_key), ensure_ascii=False))

    with django_db_blocker.unblock():
        copied = _copy_test_database([hanoi.db, ndxp.db])
    if not copied:
        _wait_all([_thudo(n, "migrate", "--noinput") for n in nodes], "migrate")
    try:
        # The servers boot while the configuration is imported (each in its own process);
        # neither touches the database before the first request.
        configure = [
            _thudo(hanoi, "exchange", "config", "import", str(config)),
            _thudo(ndxp, "shell", "-c", LOAD_PERSON.format(path=str(config), pid=PID)),
        ]
        for n in nodes:
            with n.log.open("wb") as log:
                n.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "config.wsgi:application",
                        "--bind",
                        n.url.removeprefix("http://"),
                        "--workers",
                        "1",
                        "--threads",
                        "4",
                        "--timeout",
                        "30",
                    ],
                    cwd=ROOT,
                    env=n.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        _wait_all(configure, "configuration")
        for n in nodes:
            _wait_ready(n)
        yield TwoNodes(hanoi, ndxp, client_key)
    finally:
        for n in nodes:
            if n.process is not None and n.process.poll() is None:
                n.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        for n in nodes:
            if n.process is not None:
                try:
                    n.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    n.process.kill()


def client_assertion(two: TwoNodes, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": CLIENT,
        "sub": CLIENT,
        "aud": two.hanoi.url,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return keys.sign(payload, key=two.client_key)


def call_hanoi(
    two: TwoNodes, service: str, path: str, *, token: str | None = None, mid: str | None = None
) -> httpx.Response:
    return httpx.get(
        f"{two.hanoi.url}/exchange/r1/{service}/{path}",
        headers={
            "Authorization": f"Bearer {token or client_assertion(two)}",
            "Thudo-Message-Id": mid or uuid.uuid4().hex,
            "Thudo-Purpose": "1.001193%20%C4%90%C4%83ng%20k%C3%BD%20khai%20sinh",
            "Thudo-Subject": PID,
        },
        timeout=20,
    )


def test_the_city_node_gets_a_person_from_the_national_node(two_nodes: TwoNodes) -> None:
    response = call_hanoi(two_nodes, PERSON, f"person/{PID}", mid="two-nodes-0001")

    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "Nguyễn Văn An"
    assert response.json()["birth_date"] == "1990-05-17"
    # The answer is ndxp's: it verifies with ndxp's published key, and binds hanoi's request.
    ndxp_keys = KeySet.import_key_set(
        httpx.get(f"{two_nodes.ndxp.url}/exchange/r1/.well-known/jwks.json").json()
    )
    answer = json.loads(
        jws.deserialize_compact(
            response.headers["Thudo-Signature"], ndxp_keys, algorithms=["EdDSA", "ES256"]
        ).payload
    )
    assert answer["node"] == "ndxp" and answer["mid"] == "two-nodes-0001"
    assert answer["body_sha256"] == b64url_sha256(response.content)
    assert answer["request_sha256"] == b64url_sha256(response.headers["Thudo-Request-Signature"])

    # Each node logged its side of it.
    [(hanoi_entry,)] = two_nodes.hanoi.query(
        "SELECT entry FROM exchange_logentry WHERE message_id = ?", ("two-nodes-0001",)
    )
    [(ndxp_index, ndxp_entry)] = two_nodes.ndxp.query(
        'SELECT "index", entry FROM exchange_logentry WHERE message_id = ?', ("two-nodes-0001",)
    )
    assert json.loads(hanoi_entry)["side"] == "client"
    assert json.loads(hanoi_entry)["node"] == "hanoi"
    assert json.loads(ndxp_entry)["side"] == "provider"
    assert json.loads(ndxp_entry)["purpose"] == "1.001193 Đăng ký khai sinh"
    assert int(response.headers["Thudo-Provider-Log-Index"]) == ndxp_index
    assert two_nodes.ndxp.query(
        "SELECT side, client, status FROM exchange_message WHERE message_id = ?",
        ("two-nodes-0001",),
    ) == [("provider", CLIENT, 200)]


def test_a_retry_over_http_is_answered_once(two_nodes: TwoNodes) -> None:
    first = call_hanoi(two_nodes, PERSON, f"person/{PID}", mid="two-nodes-0002")
    again = call_hanoi(two_nodes, PERSON, f"person/{PID}", mid="two-nodes-0002")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert first.headers["Thudo-Signature"] == again.headers["Thudo-Signature"]
    assert two_nodes.ndxp.query(
        "SELECT count(*) FROM exchange_logentry WHERE message_id = ?", ("two-nodes-0002",)
    ) == [(1,)]


def test_a_node_that_is_down_is_provider_unreachable(two_nodes: TwoNodes) -> None:
    response = call_hanoi(two_nodes, INSURANCE, f"insurance/{PID}", mid="two-nodes-0003")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "provider_unreachable"
    assert two_nodes.hanoi.query(
        "SELECT kind FROM exchange_logentry WHERE message_id = ?", ("two-nodes-0003",)
    ) == [("error",)]


def test_a_bad_client_assertion_is_refused_and_nothing_reaches_the_provider(
    two_nodes: TwoNodes,
) -> None:
    before = two_nodes.ndxp.query("SELECT count(*) FROM exchange_message")
    forged = keys.sign(
        {
            "iss": CLIENT,
            "sub": CLIENT,
            "aud": two_nodes.hanoi.url,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
            "jti": uuid.uuid4().hex,
        },
        key=OKPKey.generate_key("Ed25519"),
    )
    response = call_hanoi(two_nodes, PERSON, f"person/{PID}", token=forged, mid="two-nodes-0004")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_client_assertion"
    assert two_nodes.ndxp.query("SELECT count(*) FROM exchange_message") == before
    assert two_nodes.hanoi.query(
        "SELECT side, error_code FROM exchange_message WHERE message_id = ?", ("two-nodes-0004",)
    ) == [("client", "bad_client_assertion")]
