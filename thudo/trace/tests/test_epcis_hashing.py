"""The CBV 2.0 event hash: GS1's example ids, stability under syntax, sensitivity to facts."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from thudo.trace.epcis import hashing

from .test_epcis_support import gs1_examples, load, require_epcis_data

BASE: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2024-05-01T08:30:00.000+07:00",
    "eventTimeZoneOffset": "+07:00",
    "epcList": [
        "urn:epc:id:sgtin:8931234.050001.S1",
        "urn:epc:id:sgtin:8931234.050001.S2",
    ],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "readPoint": {"id": "urn:epc:id:sgln:8931234.00001.0"},
    "bizTransactionList": [
        {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:8931234000016:PO1"},
        {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:8931234000016:D1"},
    ],
    "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:8931234.00001"}],
    "destinationList": [{"type": "location", "destination": "urn:thudo:loc:SHOP-1"}],
    "thudo:stage": "shipping",
}


def _examples() -> list[Any]:
    hashed = [
        p
        for p in gs1_examples()
        if any(
            hashing.is_event_hash(e.get("eventID", "")) for e in load(p)["epcisBody"]["eventList"]
        )
    ]
    return [pytest.param(p, id=p.name) for p in hashed] or [pytest.param(None, id="no-examples")]


@pytest.mark.parametrize("path", _examples())
def test_reproduces_the_event_ids_of_gs1_examples(path: Any) -> None:
    """GS1's EPCIS 2.0 examples carry hash eventIDs in the draft form (legacy_event_hash)."""
    require_epcis_data()
    data = load(path)
    namespaces = hashing.context_prefixes(data["@context"])
    hashed = [
        e for e in data["epcisBody"]["eventList"] if hashing.is_event_hash(e.get("eventID", ""))
    ]
    assert hashed
    for event in hashed:
        assert hashing.legacy_event_hash(event, namespaces) == event["eventID"]


def test_digital_link_and_urn_examples_give_one_canonical_hash() -> None:
    """GS1's two 9.6.4 examples say the same thing, in EPC URNs and in Digital Link URIs."""
    require_epcis_data()
    folder = gs1_examples()[0].parent
    urn = load(folder / "Example_9.6.4-TransformationEvent.jsonld")
    dl = load(folder / "Example_9.6.4-TransformationEventWithDigitalLink.jsonld")
    first = urn["epcisBody"]["eventList"][0]
    second = dl["epcisBody"]["eventList"][0]
    ns = hashing.context_prefixes(urn["@context"])
    assert hashing.event_hash(first, ns) == hashing.event_hash(second, ns)


def test_hash_form() -> None:
    value = hashing.event_hash(
        {**BASE, "@context": [{"thudo": "https://thudo.hanoi.gov.vn/epcis/"}]}
    )
    assert hashing.HASH_RE.match(value)
    assert value.startswith("ni:///sha-256;") and value.endswith("?ver=CBV2.0")


def _hash(event: dict[str, Any]) -> str:
    return hashing.event_hash(event, {"thudo": "https://thudo.hanoi.gov.vn/epcis/"})


def test_key_order_and_whitespace_do_not_change_the_hash() -> None:
    reordered = dict(reversed(list(copy.deepcopy(BASE).items())))
    assert _hash(reordered) == _hash(BASE)
    spaced = json.loads(json.dumps(BASE, indent=4))
    spaced["bizStep"] = "  shipping "
    spaced["epcList"] = [f"  {e}\n" for e in spaced["epcList"]]
    assert _hash(spaced) == _hash(BASE)


def test_list_order_does_not_change_the_hash() -> None:
    event = copy.deepcopy(BASE)
    event["epcList"].reverse()
    event["bizTransactionList"].reverse()
    assert _hash(event) == _hash(BASE)


@pytest.mark.parametrize(
    "field,value",
    [
        ("bizStep", "urn:epcglobal:cbv:bizstep:shipping"),
        ("bizStep", "https://ref.gs1.org/cbv/BizStep-shipping"),
        ("bizStep", "https://gs1.org/voc/Bizstep-shipping"),
        ("disposition", "urn:epcglobal:cbv:disp:in_transit"),
        ("disposition", "https://ref.gs1.org/cbv/Disp-in_transit"),
        ("eventTime", "2024-05-01T01:30:00Z"),
        ("eventTime", "2024-05-01T01:30:00.0004Z"),
        ("readPoint", {"id": "https://id.gs1.org/414/8931234000011"}),
        (
            "epcList",
            [
                "https://id.gs1.org/01/08931234500016/21/S1",
                "https://example.com/01/8931234500016/10/L9/21/S2?linkType=all",
            ],
        ),
    ],
)
def test_equivalent_forms_give_the_same_hash(field: str, value: Any) -> None:
    assert _hash({**BASE, field: value}) == _hash(BASE)


@pytest.mark.parametrize(
    "field,value",
    [
        ("bizStep", "receiving"),
        ("eventTime", "2024-05-01T08:30:01.000+07:00"),
        ("eventTimeZoneOffset", "+08:00"),
        ("epcList", ["urn:epc:id:sgtin:8931234.050001.S1"]),
        ("thudo:stage", "harvesting"),
        ("sourceList", [{"type": "possessing_party", "source": "urn:epc:id:pgln:8931234.00001"}]),
    ],
)
def test_a_different_fact_gives_a_different_hash(field: str, value: Any) -> None:
    assert _hash({**BASE, field: value}) != _hash(BASE)


def test_fields_outside_the_hash() -> None:
    marked = {
        **BASE,
        "eventID": "urn:uuid:1",
        "recordTime": "2024-05-02T00:00:00Z",
        "errorDeclaration": {"declarationTime": "2024-05-03T00:00:00Z", "reason": "did_not_occur"},
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
    }
    assert _hash(marked) == _hash(BASE)


def test_extension_names_expand_through_the_context() -> None:
    one = {**BASE, "@context": [{"x": "https://example.org/ns/"}], "x:a": "1"}
    other = {**BASE, "@context": [{"y": "https://example.org/ns/"}], "y:a": "1"}
    assert hashing.event_hash(one) == hashing.event_hash(other)
    assert "{https://example.org/ns/}a=1" in hashing.prehash(one)


def test_canonical_values() -> None:
    assert hashing.canonical_time("2005-04-03T20:33:31.116000-06:00") == "2005-04-04T02:33:31.116Z"
    assert hashing.canonical_time("2024-01-01T00:00:00.9996Z") == "2024-01-01T00:00:01.000Z"
    assert hashing.canonical_number(200.0) == "200"
    assert hashing.canonical_number("23.50") == "23.5"
    assert (
        hashing.canonical_epc("urn:epc:class:lgtin:4012345.012345.998877")
        == "https://id.gs1.org/01/04012345123456/10/998877"
    )
    assert hashing.canonical_epc("urn:epc:id:sscc:0614141.1234567890") == (
        "https://id.gs1.org/00/106141412345678908"
    )
    assert hashing.canonical_epc("urn:thudo:loc:X") is None
