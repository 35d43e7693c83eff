"""The GS1 Digital Link resolver behind the QR codes on our labels (docs/trace-digital-link.md).

A label carries `https://<city domain>/01/<GTIN>[/10/<lot>][/21/<serial>]`. This module parses
that key (GTIN-8/12/13/14, normalised to GTIN-14; lot and serial as GS1 AI (10)/(21) allow),
finds the product and the batch, builds the RFC 9264 linkset with GS1's link types for
machines, and counts scans per product and day. The views (views_resolver.py) only negotiate
the answer: the consumer page (HTML, the default), the linkset (JSON), or a 307 to the EPCIS
query for `linkType=gs1:epcis`.

Unknown lot: the product's page with a notice (the linkset says so too). Unknown GTIN: 404 naming
the GTIN. A malformed GTIN, lot or serial (wrong check digit, wrong length): 400.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .identifiers import (
    MSG_GTIN_CHECK,
    MSG_GTIN_DIGITS,
    MSG_LOT,
    item_uri,
    lot_ok,
    normalize_gtin,
)
from .models import (
    AnchorItem,
    Batch,
    Certification,
    Event,
    EventLink,
    Place,
    Producer,
    Product,
    Recall,
    RecallFlag,
    ScanDay,
)

LINKSET_TYPE = "application/linkset+json"
GS1_VOC = "https://gs1.org/voc/"
# linkType values we answer, short (gs1:…) and as URIs (both GS1 namespaces are accepted).
LINK_PIP = "pip"
LINK_TRACEABILITY = "traceability"
LINK_CERTIFICATION = "certificationInfo"
LINK_EPCIS = "epcis"
LINK_RECALL = "recallStatus"
LINK_DEFAULT = "defaultLink"
LANGUAGES = ("vi", "en")
PROBLEM_BASE = "https://thudo.hanoi.gov.vn/problems/"

MSG_UNKNOWN_GTIN = _(
    "No product with GTIN %(gtin)s is registered in this city's traceability system."
)
MSG_UNKNOWN_LOT = _(
    "Lot %(lot)s of this product is not registered: this page shows the product only. "
    "Check the lot number printed on the package."
)
MSG_UNKNOWN_SERIAL = _(
    "Item %(serial)s of this product is not registered: this page shows the product only."
)


class ResolverError(Exception):
    """A scan we cannot answer: `status` 400 (malformed key) or 404 (unknown product)."""

    status = 400
    code = "bad_request"
    title: str | Promise = _("The product code in this link is not valid")

    def __init__(self, message: str | Promise, *, gtin: str = "", field: str = "gtin") -> None:
        super().__init__(str(message))
        self.message = message
        self.gtin = gtin
        self.field = field

    def problem(self) -> dict[str, Any]:
        """RFC 7807 problem details, in the active language."""
        body: dict[str, Any] = {
            "type": f"{PROBLEM_BASE}{self.code.replace('_', '-')}",
            "title": str(self.title),
            "status": self.status,
            "detail": str(self.message),
            "field": self.field,
        }
        if self.gtin:
            body["gtin"] = self.gtin
        return body


class MalformedKey(ResolverError):
    status = 400
    code = "malformed_key"


class UnknownProduct(ResolverError):
    status = 404
    code = "unknown_gtin"
    title = _("Product not found")


@dataclass(frozen=True)
class Key:
    """A parsed Digital Link key: the GTIN-14, the lot and the serial (either may be "")."""

    gtin: str
    lot: str = ""
    serial: str = ""

    @property
    def path(self) -> str:
        return page_path(self.gtin, self.lot, self.serial)


@dataclass
class Resolution:
    key: Key
    product: Product
    batch: Batch | None
    lot_unknown: bool = False
    serial_unknown: bool = False
    stamp: PageStamp | None = None  # what the page depends on (resolve_stamped)

    @property
    def notice(self) -> str:
        """Why the page shows the product only, in the active language ("" when it does not)."""
        if self.lot_unknown:
            return str(MSG_UNKNOWN_LOT) % {"lot": self.key.lot}
        if self.serial_unknown:
            return str(MSG_UNKNOWN_SERIAL) % {"serial": self.key.serial}
        return ""

    @property
    def page_path(self) -> str:
        """Where the consumer page of what was found lives (the product's when the lot is not)."""
        if self.batch is None:
            return page_path(self.key.gtin)
        return page_path(self.key.gtin, self.batch.lot, self.key.serial)


def page_path(gtin: str, lot: str = "", serial: str = "") -> str:
    """The resolver's path for a key: /01/<gtin>[/10/<lot>][/21/<serial>] (percent-encoded)."""
    path = f"/01/{gtin}"
    if lot:
        path += f"/10/{quote(lot, safe='')}"
    if serial:
        path += f"/21/{quote(serial, safe='')}"
    return path


def batch_path(batch: Batch) -> str:
    """The consumer page of a batch (its product must be loaded or cheap to load)."""
    return page_path(batch.product.gtin, batch.lot)


def parse_key(gtin: str, lot: str | None = None, serial: str | None = None) -> Key:
    """The normalised key, or MalformedKey naming the part that is wrong and why."""
    raw = (gtin or "").strip()
    if not raw.isdigit() or len(raw) not in (8, 12, 13, 14):
        raise MalformedKey(MSG_GTIN_DIGITS, gtin=raw[:20], field="gtin")
    normal = normalize_gtin(raw)
    if normal is None:
        raise MalformedKey(MSG_GTIN_CHECK, gtin=raw, field="gtin")
    if lot is not None and not lot_ok(lot):
        raise MalformedKey(MSG_LOT, gtin=normal, field="lot")
    if serial is not None and not lot_ok(serial):
        raise MalformedKey(MSG_LOT, gtin=normal, field="serial")
    return Key(gtin=normal, lot=lot or "", serial=serial or "")


def resolve(key: Key) -> Resolution:
    """The product and batch a key names: one query for the product (with its producer and
    ward), one for the batch. UnknownProduct when no product has the GTIN."""
    product = (
        Product.objects.select_related("producer", "producer__ward")
        .defer("producer__ward__boundary")  # a ward's outline: large, and not shown
        .filter(gtin=key.gtin)
        .first()
    )
    if product is None:
        raise UnknownProduct(
            str(MSG_UNKNOWN_GTIN) % {"gtin": key.gtin}, gtin=key.gtin, field="gtin"
        )
    batch: Batch | None = None
    lot_unknown = serial_unknown = False
    batches = Batch.objects.select_related("place")
    if key.lot:
        batch = batches.filter(product=product, lot=key.lot).first()
        lot_unknown = batch is None
    elif key.serial:
        # An item URI without its lot. Our labels number items "<lot>.<n>"; other producers'
        # items are found through the events that name them.
        prefix = key.serial.rpartition(".")[0]
        if prefix:
            batch = batches.filter(product=product, lot=prefix).first()
        if batch is None:
            batch = (
                batches.filter(
                    product=product, links__event__epcs__epc=item_uri(key.gtin, key.serial)
                )
                .order_by("pk")
                .first()
            )
        serial_unknown = batch is None
    if batch is not None:
        batch.product = product  # already loaded: no second query for batch.product
    return Resolution(
        key=key,
        product=product,
        batch=batch,
        lot_unknown=lot_unknown,
        serial_unknown=serial_unknown,
    )


# --- what a kept consumer page depends on ----------------------------------------------------


@dataclass(frozen=True)
class PageStamp:
    """What the consumer page of a key depends on, read with the product and batch in one
    query (resolve_stamped): the rows it shows (product, producer, the ward's name, batch,
    place) and the certificates; for a batch, a digest of its chain (every link with its
    event's document: a new event, a correction naming the batch or a record altered behind
    the system's back changes it), the latest correction recorded against its events
    elsewhere, its latest anchor item and its recall flags (a new recall, a lifted one); for
    the product's own page, the recall flags of its lots.

    `digest` changes whenever any of them does; `chain` (the chain digest and the latest
    anchor item) whenever the integrity verdict may. `flagged` and `corrected` tell the page's
    builder it may skip looking for recall flags or outside corrections when there are none."""

    product_id: int
    batch_id: int | None
    digest: str
    chain: str = ""
    flagged: bool = True
    corrected: bool = True


def _ward_model() -> Any:
    return Producer._meta.get_field("ward").related_model


def _columns(alias: str, model: Any) -> str:
    qn = connection.ops.quote_name
    return ", ".join(f"{alias}.{qn(f.column)}" for f in model._meta.concrete_fields)


def _stamp_sql(vendor: str, with_lot: bool) -> str | None:
    qn = connection.ops.quote_name
    models = (AnchorItem, Batch, Certification, Event, EventLink, Place, Producer, Product)
    t = {m.__name__: qn(m._meta.db_table) for m in (*models, Recall, RecallFlag)}
    ward = qn(_ward_model()._meta.db_table)
    if vendor == "postgresql":
        text = "l.seq::text || ':' || l.chain_hash || ':' || e.event_id || ':' || e.document::text"
        digest = f"md5(string_agg({text}, '|' ORDER BY l.seq))"
    elif vendor == "sqlite":  # MD5 is one of the functions Django adds to SQLite
        text = "l.seq || ':' || l.chain_hash || ':' || e.event_id || ':' || e.document"
        digest = f"MD5(group_concat({text}, '|'))"
    else:
        return None
    mine = "c.producer_id = p.producer_id AND (c.product_id IS NULL OR c.product_id = p.id)"
    # count(*) with max(): PostgreSQL would answer a lone max(id) WHERE … by walking the
    # primary key backwards until a row matches, which grows with the table.
    head = (
        f"SELECT {_columns('p', Product)}, {_columns('pr', Producer)}, w.id, w.name,"  # noqa: S608 — names only
        f" (SELECT count(*) || ':' || coalesce(max(c.id), 0) FROM {t['Certification']} c"
        f" WHERE {mine})"
    )
    joins = (
        f" FROM {t['Product']} p JOIN {t['Producer']} pr ON pr.id = p.producer_id"
        f" LEFT JOIN {ward} w ON w.id = pr.ward_id"
    )
    if not with_lot:
        flags = (
            f" FROM {t['RecallFlag']} f JOIN {t['Batch']} x ON x.id = f.batch_id"
            f" JOIN {t['Recall']} r ON r.id = f.recall_id WHERE x.product_id = p.id"
        )
        return (
            f"{head}, (SELECT max(f.id){flags}), (SELECT max(r.lifted_at){flags})"
            f"{joins} WHERE p.gtin = %s"
        )
    return (
        f"{head}, {_columns('b', Batch)}, {_columns('pl', Place)},"  # noqa: S608 — names only; the key's values are parameters
        f" (SELECT {digest} FROM {t['EventLink']} l JOIN {t['Event']} e ON e.id = l.event_id"
        " WHERE l.batch_id = b.id),"
        f" (SELECT count(*) || ':' || coalesce(max(a.anchor_id), 0) FROM {t['AnchorItem']} a"
        " WHERE a.batch_id = b.id),"
        f" (SELECT max(c.id) FROM {t['Event']} c JOIN {t['EventLink']} l"
        " ON c.corrects_id = l.event_id WHERE l.batch_id = b.id),"
        f" (SELECT count(*) || ':' || coalesce(max(f.recall_id), 0) FROM {t['RecallFlag']} f"
        " WHERE f.batch_id = b.id),"
        f" (SELECT max(r.lifted_at) FROM {t['RecallFlag']} f JOIN {t['Recall']} r"
        " ON r.id = f.recall_id WHERE f.batch_id = b.id)"
        f"{joins} JOIN {t['Batch']} b ON b.product_id = p.id AND b.lot = %s"
        f" LEFT JOIN {t['Place']} pl ON pl.id = b.place_id WHERE p.gtin = %s"
    )


_STAMP_SQL: dict[tuple[str, bool], str | None] = {}


def _instance(model: Any, values: tuple[Any, ...], fields: list[Any] | None = None) -> Any:
    """A model instance from raw column values, converted as the ORM would (SQLite returns
    dates and decimals as text); fields not given are deferred."""
    fields = fields if fields is not None else list(model._meta.concrete_fields)
    converted = []
    for f, value in zip(fields, values, strict=True):
        column = f.get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + f.get_db_converters(connection):
            value = convert(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


def resolve_stamped(key: Key) -> Resolution | None:
    """The product and batch of a key with the page's stamp, in one query; None when the page
    is not kept that way (an unknown GTIN or lot, an item's serial without its lot — found
    through its events —, a database without the hash function): then resolve()."""
    if key.serial and not key.lot:
        return None
    with_lot = bool(key.lot)
    which = (connection.vendor, with_lot)
    if which not in _STAMP_SQL:
        _STAMP_SQL[which] = _stamp_sql(*which)
    sql = _STAMP_SQL[which]
    if sql is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql, [key.lot, key.gtin] if with_lot else [key.gtin])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)

    def take(n: int) -> tuple[Any, ...]:
        taken = tuple(values[:n])
        del values[:n]
        return taken

    product = _instance(Product, take(len(Product._meta.concrete_fields)))
    producer = _instance(Producer, take(len(Producer._meta.concrete_fields)))
    ward_model = _ward_model()
    ward_id, ward_name = take(2)
    if ward_id is not None:
        fields = [ward_model._meta.pk, ward_model._meta.get_field("name")]
        producer.ward = _instance(ward_model, (ward_id, ward_name), fields)
    product.producer = producer
    take(1)  # the certificates' stamp
    digest = hashlib.blake2b(repr(row).encode(), digest_size=16).hexdigest()
    if not with_lot:
        flag, _lifted = take(2)
        stamp = PageStamp(product.pk, None, digest, flagged=flag is not None, corrected=False)
        return Resolution(key=key, product=product, batch=None, stamp=stamp)
    batch = _instance(Batch, take(len(Batch._meta.concrete_fields)))
    place_values = take(len(Place._meta.concrete_fields))
    batch.place = _instance(Place, place_values) if place_values[0] is not None else None
    batch.product = product
    chain, anchored, corrected, flags, _lifted = take(5)
    stamp = PageStamp(
        product_id=product.pk,
        batch_id=batch.pk,
        digest=digest,
        chain=repr((chain, anchored)),
        flagged=not str(flags).startswith("0:"),
        corrected=corrected is not None,
    )
    return Resolution(key=key, product=product, batch=batch, stamp=stamp)


# --- scans -----------------------------------------------------------------------------------


def record_scan(product_id: int, day: date | None = None) -> None:
    """One more scan of the product today: one UPDATE; on the day's first scan an INSERT (a
    concurrent first scan that wins the insert makes ours an UPDATE again)."""
    day = day or timezone.localdate()
    rows = ScanDay.objects.filter(product_id=product_id, day=day)
    if rows.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            ScanDay.objects.create(product_id=product_id, day=day, count=1)
    except IntegrityError:
        rows.update(count=F("count") + 1)


# --- link types and the linkset --------------------------------------------------------------


def link_type_name(value: str) -> str:
    """ "gs1:epcis", "https://gs1.org/voc/epcis" and "https://ref.gs1.org/voc/epcis" -> "epcis";
    "all" stays "all"; anything else is returned as given (and answered with the default)."""
    value = (value or "").strip()
    for prefix in ("gs1:", GS1_VOC, "https://ref.gs1.org/voc/", "http://gs1.org/voc/"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def epcis_query_path(gtin: str, lot: str = "") -> str:
    """The EPCIS 2.0 query (T1's GET /epcis/events) for a batch, or for a product."""
    try:
        base = reverse("epcis:events")
    except NoReverseMatch:
        base = "/epcis/events"
    params = {"gtin": gtin}
    if lot:
        params["lot"] = lot
    return f"{base}?{urlencode(params)}"


def active_recall_flags(batch: Batch) -> list[RecallFlag]:
    return list(
        RecallFlag.objects.filter(batch=batch, recall__lifted_at__isnull=True).select_related(
            "recall"
        )
    )


def _titles(message: str | Promise) -> dict[str, Any]:
    """{"title": in the active language, "title*": [{value, language} for vi and en]}."""
    rendered = []
    for code in LANGUAGES:
        with translation.override(code):
            rendered.append({"value": str(message), "language": code})
    return {"title": str(message), "title*": rendered}


def _name(product: Product) -> str:
    english = (translation.get_language() or "").startswith("en")
    return (product.name_en if english and product.name_en else product.name) or ""


def linkset(resolution: Resolution, request: HttpRequest) -> dict[str, Any]:
    """The RFC 9264 linkset (application/linkset+json) for a resolved key, with GS1 link types.

    The anchor is the URI that was scanned; gs1:pip and gs1:defaultLink lead to the consumer
    page (the product's when the lot is unknown), gs1:traceability and gs1:certificationInfo to
    its sections, gs1:epcis to the EPCIS query, gs1:recallStatus to the recall notice when the
    batch is recalled."""
    key = resolution.key
    product = resolution.product
    anchor = request.build_absolute_uri(key.path)
    page = request.build_absolute_uri(resolution.page_path)
    html = {"type": "text/html", "hreflang": list(LANGUAGES)}
    name = _name(product)
    links: dict[str, Any] = {
        "anchor": anchor,
        "itemDescription": name,
        f"{GS1_VOC}{LINK_DEFAULT}": [{"href": page, **_titles(_("Product information")), **html}],
        f"{GS1_VOC}{LINK_PIP}": [{"href": page, **_titles(_("Product information")), **html}],
    }
    batch = resolution.batch
    if batch is not None:
        links[f"{GS1_VOC}{LINK_TRACEABILITY}"] = [
            {"href": f"{page}#journey", **_titles(_("Where this batch comes from")), **html}
        ]
    if (
        product.certifications.exists()
        or product.producer.certifications.filter(product__isnull=True).exists()
    ):
        links[f"{GS1_VOC}{LINK_CERTIFICATION}"] = [
            {"href": f"{page}#certificates", **_titles(_("Certificates")), **html}
        ]
    links[f"{GS1_VOC}{LINK_EPCIS}"] = [
        {
            "href": request.build_absolute_uri(
                epcis_query_path(key.gtin, batch.lot if batch else "")
            ),
            **_titles(_("Supply-chain events (EPCIS 2.0)")),
            "type": "application/ld+json",
        }
    ]
    if batch is not None and active_recall_flags(batch):
        links[f"{GS1_VOC}{LINK_RECALL}"] = [
            {"href": f"{page}#recall", **_titles(_("This batch is recalled")), **html}
        ]
    body: dict[str, Any] = {"linkset": [links]}
    if resolution.lot_unknown or resolution.serial_unknown:
        body["notice"] = {
            "code": "lot_unknown" if resolution.lot_unknown else "serial_unknown",
            "message": resolution.notice,
            "fallback": page,
        }
    return body
