"""Operations: the Prometheus endpoint (numbers from the Message table, so every process agrees;
protected by a bearer token or loopback) and the operations page (last 24 h per service)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from thudo.accounts.roles import Role
from thudo.accounts.testing import login_verified
from thudo.exchange import metrics
from thudo.exchange.client import ExchangeError, call
from thudo.exchange.models import Message

from .test_protocol import ECHO, PERSON, PID, PORTAL, PURPOSE, Exchange, exchange, node_key

__all__ = ["exchange", "node_key"]

pytestmark = pytest.mark.django_db


def traffic() -> None:
    """Two good calls and one refused (subject_required) from the portal, in process."""
    call(system=PORTAL, service=ECHO, purpose=PURPOSE)
    call(system=PORTAL, service=PERSON, path=f"person/{PID}", purpose=PURPOSE, subject=PID)
    with pytest.raises(ExchangeError):
        call(system=PORTAL, service=PERSON, path=f"person/{PID}", purpose=PURPOSE)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_calls_errors_and_latency_per_service_and_side(
    client: Client, exchange: Exchange
) -> None:
    traffic()
    response = client.get(reverse("exchange:metrics"))  # the test client is 127.0.0.1
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    got = samples(response.content.decode())
    person_client = (("service", PERSON), ("side", "client"))
    assert got[("thudo_exchange_calls_total", person_client)] == 2
    assert got[("thudo_exchange_calls_total", (("service", PERSON), ("side", "provider")))] == 1
    assert got[("thudo_exchange_calls_total", (("service", ECHO), ("side", "client")))] == 1
    code = (("code", "subject_required"), ("service", PERSON), ("side", "client"))
    assert got[("thudo_exchange_errors_total", code)] == 1
    assert got[("thudo_exchange_duration_seconds_count", person_client)] == 2
    inf = (("le", "+Inf"), ("service", PERSON), ("side", "client"))
    assert got[("thudo_exchange_duration_seconds_bucket", inf)] == 2
    assert got[("thudo_exchange_duration_seconds_sum", person_client)] > 0
    # Used client-assertion ids are not exchanges.
    assert not any("jti" in dict(labels).values() for _name, labels in got)


def test_metrics_need_the_token_or_loopback(
    client: Client, exchange: Exchange, settings: Any
) -> None:
    url = reverse("exchange:metrics")
    settings.EXCHANGE_METRICS_TOKEN = ""
    assert client.get(url, REMOTE_ADDR="203.0.113.7").status_code == 401
    assert client.get(url, REMOTE_ADDR="::1").status_code == 200

    settings.EXCHANGE_METRICS_TOKEN = "s3cret-scrape"
    assert client.get(url).status_code == 401  # loopback no longer enough
    assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get(url, headers={"Authorization": "Bearer s3cret-scrape"}, REMOTE_ADDR="10.0.0.5")
    assert ok.status_code == 200


def test_percentiles() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert metrics.percentile(values, 0.5) == 50
    assert metrics.percentile(values, 0.95) == 95
    assert metrics.percentile([], 0.5) is None
    assert metrics.percentile([7.0], 0.95) == 7


def test_service_stats_cover_the_last_24_hours(exchange: Exchange) -> None:
    traffic()
    Message.objects.filter(side="client", service=ECHO).update(
        started_at=timezone.now() - timedelta(hours=30)
    )
    rows = {(r.service, r.side): r for r in metrics.service_stats(hours=24)}
    person = rows[(PERSON, "client")]
    assert (person.calls, person.errors) == (2, {"subject_required": 1})
    assert person.p50_ms is not None and person.p95_ms is not None
    assert person.p50_ms <= person.p95_ms
    assert (ECHO, "client") not in rows  # older than 24 h
    assert (ECHO, "provider") in rows


def test_the_operations_page(
    client: Client, exchange: Exchange, make_agency: Any, make_official: Any
) -> None:
    traffic()
    agency = make_agency(code="HN")
    auditor = make_official(role=Role.AUDITOR, agency=agency)
    clerk = make_official(role=Role.RECEIVING_OFFICER, agency=agency)
    client.cookies["thudo_language"] = "en"
    login_verified(client, auditor)
    page = client.get(reverse("exchange:ops"))
    assert page.status_code == 200
    text = page.content.decode()
    assert PERSON in text and "subject_required" in text
    assert "Latency p95 (ms)" in text
    login_verified(client, clerk)
    assert client.get(reverse("exchange:ops")).status_code == 403
