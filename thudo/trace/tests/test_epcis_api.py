"""The EPCIS 2.0 REST binding: capture and query over HTTP, auth, errors as problem JSON."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from thudo.accounts import services as account_services
from thudo.accounts.roles import Role
from thudo.trace.identifiers import lot_uri
from thudo.trace.models import Event

from .test_epcis_support import *  # noqa: F403 — the shared fixtures
from .test_epcis_support import (
    GTIN_A,
    GTIN_OTHER,
    document,
    make_batch,
    make_producer,
    make_product,
    object_event,
)

pytestmark = pytest.mark.django_db

LD = "application/ld+json"


@pytest.fixture
def token(farmer: Any) -> str:
    _token, raw = account_services.api_token_create(user=farmer, name="farm app")
    return raw


@pytest.fixture
def api(token: str) -> Client:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.cookies["thudo_language"] = "en"
    return client


def _post(client: Client, url: str, body: Any, content_type: str = LD, **extra: Any) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(url, data=data, content_type=content_type, **extra)


def _problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"] == kind
    assert body["title"] and "errors" in body
    return body


def _capture(api: Client, farm: Any, n: int = 3) -> list[str]:
    events = [object_event(GTIN_A, "L001", place=farm, minutes_ago=100 - i) for i in range(n)]
    response = _post(api, "/epcis/capture", document(*events))
    assert response.status_code == 202, response.content
    return response.json()["eventIDs"]


def test_capture_with_token(api: Client, batch_a: Any, farm: Any) -> None:
    events = [object_event(GTIN_A, "L001", place=farm)]
    response = _post(api, "/epcis/capture", document(*events))
    assert response.status_code == 202
    location = response["Location"]
    assert location.startswith("/epcis/capture/")
    status = api.get(location)
    assert status.status_code == 200
    body = status.json()
    assert body["success"] is True and body["running"] is False
    assert body["eventIDs"] == [Event.objects.get().event_id]


def test_post_one_event(api: Client, batch_a: Any) -> None:
    event = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        **object_event(GTIN_A, "L001"),
    }
    response = _post(api, "/epcis/events", event, content_type="application/json")
    assert response.status_code == 201
    stored = Event.objects.get()
    assert response["Location"] == "/epcis/events/" + quote(stored.event_id, safe="")
    fetched = api.get(response["Location"])
    assert fetched.status_code == 200
    assert fetched.json()["eventID"] == stored.event_id
    assert fetched["Content-Type"].startswith(LD)


def test_bad_document_is_a_problem_with_errors(api: Client, batch_a: Any) -> None:
    doc = document(object_event(GTIN_A, "L001"), object_event(GTIN_A, "L001", biz_step="x"))
    body = _problem(_post(api, "/epcis/capture", doc), 400, "epcisException:ValidationException")
    assert body["errors"] == [
        {
            "event": 1,
            "field": "bizStep",
            "message": "is not a CBV 2.0 business step; use a standard one (e.g. shipping) "
            "or a full URI of your own vocabulary.",
        }
    ]
    assert Event.objects.count() == 0


def test_errors_in_vietnamese(api: Client, batch_a: Any) -> None:
    api.cookies["thudo_language"] = "vi"
    doc = document(object_event(GTIN_A, "L001", biz_step="x"))
    body = _post(api, "/epcis/capture", doc).json()
    assert body["errors"][0]["field"] == "bizStep"


def test_malformed_json(api: Client, coop: Any) -> None:
    body = _problem(
        _post(api, "/epcis/capture", b"{not json"), 400, "epcisException:ValidationException"
    )
    assert body["errors"][0]["field"] == "document"


def test_wrong_content_type(api: Client, coop: Any) -> None:
    response = _post(api, "/epcis/capture", "<xml/>", content_type="application/xml")
    _problem(response, 415, "epcisException:UnsupportedMediaTypeException")


def test_too_large(api: Client, coop: Any) -> None:
    big = json.dumps(document()) + " " * (5 * 1024 * 1024)
    response = _post(api, "/epcis/capture", big)
    _problem(response, 413, "epcisException:CaptureLimitExceededException")


def test_authentication(coop: Any, batch_a: Any) -> None:
    anonymous = Client()
    _problem(anonymous.get("/epcis/events"), 401, "epcisException:SecurityException")
    bad = Client(HTTP_AUTHORIZATION="Bearer thd_00000000_nope")
    _problem(bad.get("/epcis/events"), 401, "epcisException:SecurityException")
    basic = Client(HTTP_AUTHORIZATION="Basic dTpw")
    _problem(basic.get("/epcis/events"), 401, "epcisException:SecurityException")


def test_session_needs_csrf_for_capture(farmer: Any, batch_a: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(farmer)
    response = _post(client, "/epcis/capture", document(object_event(GTIN_A, "L001")))
    _problem(response, 403, "epcisException:SecurityException")
    assert client.get("/epcis/events").status_code == 200  # reading needs no token
    secret = "a" * 32  # the CSRF cookie's secret, sent back in the header as pages do
    client.cookies["csrftoken"] = secret
    response = _post(
        client, "/epcis/capture", document(object_event(GTIN_A, "L001")), HTTP_X_CSRFTOKEN=secret
    )
    assert response.status_code == 202, response.content


def test_not_a_member(ward: Any, batch_a: Any) -> None:
    stranger = account_services.citizen_create(
        personal_id="001090123457",
        full_name="Trần Thị Bình",
        sex="male",
        birth_date=date(1990, 1, 1),
        password="x-pass-123456",
    )
    _t, raw = account_services.api_token_create(user=stranger, name="t")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = _post(client, "/epcis/capture", document(object_event(GTIN_A, "L001")))
    _problem(response, 403, "epcisException:SecurityException")
    assert (
        client.get("/epcis/events").json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        == []
    )


def test_producer_header(api: Client, farmer: Any, ward: Any, batch_a: Any, coop: Any) -> None:
    second = make_producer(ward, name="Second", prefix="8939999", user=farmer)
    make_batch(make_product(second, GTIN_OTHER), "X1")
    doc = document(object_event(GTIN_OTHER, "X1"))
    _problem(_post(api, "/epcis/capture", doc), 400, "epcisException:ValidationException")
    response = _post(api, "/epcis/capture", doc, HTTP_THUDO_PRODUCER=str(second.pk))
    assert response.status_code == 202
    assert Event.objects.get().producer == second
    response = _post(api, "/epcis/capture", doc, HTTP_THUDO_PRODUCER="999999")
    _problem(response, 403, "epcisException:SecurityException")


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "EPCISQueryDocument"
    return body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def test_query_filters_and_pages(api: Client, batch_a: Any, farm: Any) -> None:
    ids = _capture(api, farm, n=5)
    assert [e["eventID"] for e in _events(api.get("/epcis/events"))] == ids
    page = api.get("/epcis/events", {"perPage": 2})
    assert [e["eventID"] for e in _events(page)] == ids[:2]
    link = page["Link"]
    assert link.endswith('>; rel="next"')
    second = api.get(link[1 : link.index(">")].replace("http://testserver", ""))
    assert [e["eventID"] for e in _events(second)] == ids[2:4]
    assert "Link" in second
    assert _events(api.get("/epcis/events", {"eventType": "AggregationEvent"})) == []
    assert len(_events(api.get("/epcis/events", {"EQ_bizStep": "commissioning"}))) == 5
    assert len(_events(api.get("/epcis/events", {"EQ_bizStep": "shipping"}))) == 0
    assert (
        len(
            _events(
                api.get("/epcis/events", {"EQ_bizStep": "urn:epcglobal:cbv:bizstep:commissioning"})
            )
        )
        == 5
    )
    assert len(_events(api.get("/epcis/events", {"gtin": GTIN_A, "lot": "L001"}))) == 5
    assert len(_events(api.get("/epcis/events", {"gtin": GTIN_A, "lot": "L999"}))) == 0
    assert len(_events(api.get("/epcis/events", {"MATCH_epcClass": lot_uri(GTIN_A, "L001")}))) == 5
    urn = "urn:epc:class:lgtin:8931234.050001.L001"
    assert len(_events(api.get("/epcis/events", {"MATCH_epcClass": urn}))) == 5
    assert len(_events(api.get("/epcis/events", {"MATCH_anyEPC": lot_uri(GTIN_A, "L001")}))) == 0
    stored = list(Event.objects.order_by("event_time", "pk"))
    after = stored[2].event_time.isoformat()
    assert [e["eventID"] for e in _events(api.get("/epcis/events", {"GE_eventTime": after}))] == (
        ids[2:]
    )
    assert [e["eventID"] for e in _events(api.get("/epcis/events", {"LT_eventTime": after}))] == (
        ids[:2]
    )
    assert len(_events(api.get("/epcis/events", {"EQ_bizLocation": stored[0].biz_location}))) == 5


def test_query_parameter_errors(api: Client, coop: Any) -> None:
    for params, field in (
        ({"perPage": "0"}, "perPage"),
        ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
        ({"nextPageToken": "forged"}, "nextPageToken"),
        ({"gtin": "8931234500019"}, "gtin"),
        ({"colour": "red"}, "colour"),
    ):
        body = _problem(
            api.get("/epcis/events", params), 400, "epcisException:QueryParameterException"
        )
        assert [e["field"] for e in body["errors"]] == [field]


def test_other_resources(api: Client, batch_a: Any, farm: Any) -> None:
    ids = _capture(api, farm, n=2)
    types = api.get("/epcis/eventTypes").json()
    assert "ObjectEvent" in types["member"]
    assert len(_events(api.get("/epcis/eventTypes/ObjectEvent/events"))) == 2
    assert _events(api.get("/epcis/eventTypes/AggregationEvent/events")) == []
    _problem(
        api.get("/epcis/eventTypes/Nope/events"), 404, "epcisException:NoSuchResourceException"
    )
    epc = quote(lot_uri(GTIN_A, "L001"), safe="")
    assert len(_events(api.get(f"/epcis/epcs/{epc}/events"))) == 2
    detail = api.get("/epcis/events/" + quote(ids[0], safe=""))
    assert detail.json()["eventID"] == ids[0]
    _problem(
        api.get("/epcis/events/urn%3Auuid%3Anone"), 404, "epcisException:NoSuchResourceException"
    )
    _problem(api.get("/epcis/capture/nope"), 404, "epcisException:NoSuchResourceException")
    plain = api.get("/epcis/events", HTTP_ACCEPT="application/json")
    assert plain["Content-Type"].startswith("application/json")
    refused = api.get("/epcis/events", HTTP_ACCEPT="text/html")
    _problem(refused, 406, "epcisException:NotAcceptableException")
    _problem(api.delete("/epcis/events"), 405, "epcisException:MethodNotAllowedException")


def test_visibility(
    api: Client, batch_a: Any, farm: Any, ward: Any, make_official: Any, make_agency: Any
) -> None:
    _capture(api, farm, n=2)
    other = make_producer(ward, name="Other", prefix="8939999")
    assert Event.objects.filter(producer=other).count() == 0
    officer = make_official(role=Role.FOOD_SAFETY_OFFICER, agency=make_agency(code="HN-SNNMT"))
    client = Client()
    client.force_login(officer)
    assert len(_events(client.get("/epcis/events"))) == 2
    plain = make_official()
    client = Client()
    client.force_login(plain)
    assert _events(client.get("/epcis/events")) == []
