"""Open311 client libraries against the running server, over real HTTP.

The npm `open311` client (tests/open311_client, installed by `make install`) submits a service
request and reads it back by id, by a list of ids and in the list, and exchanges its token; the
Python `georeport` client reads the services, the definition and the request in JSON and XML.
Without node or the npm module the first test skips, unless THUDO_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from thudo.core.testing import require_program

from .test_open311 import QUESTIONS, WARD_POINT, categories, city, media_root, system

__all__ = ["categories", "city", "media_root", "system"]  # fixtures shared with test_open311

CLIENT_DIR = Path(__file__).resolve().parents[3] / "tests" / "open311_client"
JURISDICTION = "hanoi.gov.vn"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def node_client() -> Any:
    """Runs tests/open311_client/client.js; skips (fails in CI) without node or the module."""
    node = require_program("node", "the Open311 client-library test runs the npm open311 client")
    require_program(
        str(CLIENT_DIR / "node_modules" / "open311"),
        "run `make install` (npm ci --prefix tests/open311_client)",
    )

    def run(action: str, config: dict[str, Any]) -> Any:
        done = subprocess.run(
            [node, str(CLIENT_DIR / "client.js"), action, json.dumps(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


def test_npm_open311_client_creates_and_reads_a_request(
    node_client: Any, live_server: Any, city: Any, categories: Any, system: Any
) -> None:
    from thudo.feedback.models import Report

    config = {
        "endpoint": f"{live_server.url}/open311/v2/",
        "jurisdiction": JURISDICTION,
        "apiKey": system.key,
        "request": {
            "service_code": "o-ga",
            **{k: float(v) for k, v in WARD_POINT.items()},
            "address_string": "12 Hàng Bài, Hoàn Kiếm",
            "description": "Ổ gà sâu trước số 12 Hàng Bài",
            "email": "an@example.vn",
            "first_name": "An",
            "last_name": "Nguyễn",
            "attributes": {"size": "large", "hazards": ["water", "dark"], "depth": 15},
        },
    }
    result = node_client("flow", config)

    assert [s["service_code"] for s in result["services"]] == ["o-ga", "rac-thai"]
    assert [a["code"] for a in result["definition"]["attributes"]] == [
        q["code"] for q in sorted(QUESTIONS, key=lambda q: q["order"])
    ]
    [created] = result["created"]
    report_id = created["service_request_id"]
    report = Report.objects.get(pk=report_id)
    assert report.source == "open311"
    assert report.client == system.user
    assert report.reporter_name == "An Nguyễn"
    assert report.attributes == {"size": "large", "hazards": ["water", "dark"], "depth": 15}

    [by_id] = result["byId"]
    assert by_id["service_request_id"] == report_id
    assert by_id["status"] == "open"
    assert by_id["service_code"] == "o-ga"
    assert by_id["description"] == "Ổ gà sâu trước số 12 Hàng Bài"
    assert by_id["address"] == "12 Hàng Bài, Hoàn Kiếm"
    assert (by_id["lat"], by_id["long"]) == (21.0287, 105.8524)
    assert [r["service_request_id"] for r in result["byIds"]] == [report_id]
    assert report_id in [r["service_request_id"] for r in result["list"]]

    token = node_client("token", {**config, "token": str(report.token)})
    assert token == [{"service_request_id": report_id, "token": str(report.token)}]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_client_reads_services_and_requests(
    live_server: Any, city: Any, categories: Any, system: Any, output_format: str
) -> None:
    from georeport import GeoReport

    from thudo.feedback import services

    report = services.report_submit(
        reporter=None,
        category=categories.waste,
        description="Rác tràn ra vỉa hè",
        latitude=21.0287,
        longitude=105.8524,
        source="open311",
        client=system.user,
        contact={},
        require_media=False,
    )
    client = GeoReport(
        f"{live_server.url}/open311/v2",
        jurisdiction=JURISDICTION,
        output_format=output_format,
    )

    listed = client.get_service_list()
    assert [s["service_code"] for s in listed] == ["o-ga", "rac-thai"]
    definition = client.get_service_definition("o-ga")
    attributes = definition["attributes"]
    if output_format == "xml":
        attributes = attributes["attribute"]
    assert attributes[0]["code"] == "size"

    request = client.get_service_request(str(report.pk))
    assert str(request["service_request_id"]) == str(report.pk)
    assert request["status"] == "open"
    assert request["description"] == "Rác tràn ra vỉa hè"
    assert request["requested_datetime"].endswith("+07:00")

    found = client.get_service_requests(service_code="rac-thai", status="open")
    if output_format == "xml":
        found = [found]  # xmltodict gives the single <request> as a dict
    assert [str(r["service_request_id"]) for r in found] == [str(report.pk)]
