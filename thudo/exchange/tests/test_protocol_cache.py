"""The node's configuration cache (thudo.exchange.node, EXCHANGE_CONFIG_CACHE_S): rows read on
the hot path are kept a few seconds per process, a change saved in the process clears them at
once, and inside a caller's transaction the node always reads the database.

These tests commit (transaction=True): the cache is bypassed inside a transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from thudo.exchange import node, services
from thudo.exchange.client import ExchangeError, call
from thudo.exchange.models import Grant

from .test_protocol import PERSON, PID, PORTAL, PURPOSE, Exchange, exchange, node_key

__all__ = ["exchange", "node_key"]  # fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def person() -> Any:
    return call(system=PORTAL, service=PERSON, path=f"person/{PID}", purpose=PURPOSE, subject=PID)


@pytest.fixture(autouse=True)
def cache_on(settings: Any) -> Any:
    settings.EXCHANGE_CONFIG_CACHE_S = 60
    node.clear_config_cache()
    yield
    node.clear_config_cache()


def test_a_grant_revoked_in_this_process_stops_calls_at_once(exchange: Exchange) -> None:
    assert person().status == 200  # the grant is cached now
    grant = Grant.objects.get(client=exchange.portal, service=exchange.person)

    services.grant_revoke(actor="test", grant=grant, reason="Hết căn cứ", check_permission=False)

    with pytest.raises(ExchangeError) as caught:
        person()
    assert caught.value.code == "grant_revoked"


def test_a_change_the_orm_does_not_signal_is_read_after_the_time_to_live(
    exchange: Exchange,
) -> None:
    assert person().status == 200
    # A bulk UPDATE (or another process) sends no signal: the cached grant serves until the
    # cache expires — here, until it is cleared as EXCHANGE_CONFIG_CACHE_S would.
    Grant.objects.filter(client=exchange.portal, service=exchange.person).update(
        revoked_at=timezone.now()
    )
    assert person().status == 200

    node.clear_config_cache()
    with pytest.raises(ExchangeError) as caught:
        person()
    assert caught.value.code == "grant_revoked"


def test_inside_a_transaction_the_node_reads_the_database(exchange: Exchange) -> None:
    assert person().status == 200
    with transaction.atomic():
        Grant.objects.filter(client=exchange.portal, service=exchange.person).update(
            revoked_at=timezone.now()
        )
        with pytest.raises(ExchangeError) as caught:
            person()
        assert caught.value.code == "grant_revoked"


def test_no_cache_when_the_time_to_live_is_zero(exchange: Exchange, settings: Any) -> None:
    settings.EXCHANGE_CONFIG_CACHE_S = 0
    assert person().status == 200
    Grant.objects.filter(client=exchange.portal, service=exchange.person).update(
        revoked_at=timezone.now()
    )
    with pytest.raises(ExchangeError) as caught:
        person()
    assert caught.value.code == "grant_revoked"
