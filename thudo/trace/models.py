"""Food and agro traceability (like check.hanoi.gov.vn): producers with their places and
certifications, products (GTIN, OCOP stars), batches, supply-chain events in GS1 EPCIS 2.0 with
their canonical hash as id, a hash chain per batch anchored by the platform's signature, recalls
that follow transformation and aggregation downstream, and scan counts.

Events are never updated or deleted; a correction is a new event that points to the one it
corrects (docs/trace.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Producer(models.Model):
    class Kind(models.TextChoices):
        BUSINESS = "business", _("Business")
        COOPERATIVE = "cooperative", _("Cooperative")
        HOUSEHOLD = "household", _("Household")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=255)
    name_en = models.CharField(_("name in English"), max_length=255, blank=True)
    business_code = models.CharField(
        _("enterprise / cooperative code"), max_length=14, blank=True, db_index=True
    )
    address = models.CharField(_("address"), max_length=300)
    ward = models.ForeignKey(
        "core.AdminUnit", on_delete=models.PROTECT, related_name="+", verbose_name=_("ward")
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    gln = models.CharField(_("GLN"), max_length=13, blank=True)
    gs1_company_prefix = models.CharField(
        _("GS1 company prefix"),
        max_length=12,
        blank=True,
        help_text=_("Vietnamese prefixes start with 893."),
    )
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("registered"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("producer")
        verbose_name_plural = _("producers")

    def __str__(self) -> str:
        return self.name


class ProducerMember(models.Model):
    """A person who keeps a producer's records (owner or staff)."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        STAFF = "staff", _("Staff")

    producer = models.ForeignKey(Producer, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trace_memberships"
    )
    role = models.CharField(_("role"), max_length=8, choices=Role.choices, default=Role.OWNER)

    class Meta:
        verbose_name = _("producer member")
        verbose_name_plural = _("producer members")
        constraints = [
            models.UniqueConstraint(fields=["producer", "user"], name="uniq_trace_member")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.producer}"


class Place(models.Model):
    """A farm, plant, warehouse or shop: an EPCIS read point / business location."""

    class Kind(models.TextChoices):
        FARM = "farm", _("Farm / growing area")
        PLANT = "plant", _("Processing plant")
        WAREHOUSE = "warehouse", _("Warehouse")
        SHOP = "shop", _("Shop / market stall")

    producer = models.ForeignKey(Producer, on_delete=models.CASCADE, related_name="places")
    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    gln = models.CharField(_("GLN"), max_length=13, blank=True)
    code = models.CharField(
        _("location code"),
        max_length=40,
        unique=True,
        help_text=_("The internal location code where the place has no GLN."),
    )
    address = models.CharField(_("address"), max_length=300)
    ward = models.ForeignKey(
        "core.AdminUnit", on_delete=models.PROTECT, related_name="+", verbose_name=_("ward")
    )
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)

    class Meta:
        ordering = ["producer", "name"]
        verbose_name = _("place")
        verbose_name_plural = _("places")

    def __str__(self) -> str:
        return self.name


class Certification(models.Model):
    class Scheme(models.TextChoices):
        VIETGAP = "vietgap", "VietGAP"
        GLOBALGAP = "globalgap", "GlobalG.A.P."
        ORGANIC = "organic", _("Organic (TCVN 11041)")
        HACCP = "haccp", "HACCP"
        ISO22000 = "iso22000", "ISO 22000"
        FOOD_SAFETY = "food_safety", _("Food safety eligibility certificate")
        OTHER = "other", _("Other")

    producer = models.ForeignKey(Producer, on_delete=models.CASCADE, related_name="certifications")
    product = models.ForeignKey(
        "Product",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="certifications",
        help_text=_("Empty when it covers the whole producer."),
    )
    scheme = models.CharField(_("scheme"), max_length=12, choices=Scheme.choices)
    number = models.CharField(_("certificate number"), max_length=60)
    issuer = models.CharField(_("issued by"), max_length=255)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        ordering = ["producer", "scheme"]
        verbose_name = _("certification")
        verbose_name_plural = _("certifications")

    def __str__(self) -> str:
        return f"{self.get_scheme_display()} {self.number}"


class Product(models.Model):
    class Category(models.TextChoices):
        VEGETABLES = "vegetables", _("Vegetables")
        FRUIT = "fruit", _("Fruit")
        RICE = "rice", _("Rice and grains")
        MEAT = "meat", _("Meat and eggs")
        FISH = "fish", _("Fish and seafood")
        TEA = "tea", _("Tea and coffee")
        PROCESSED = "processed", _("Processed food")
        DRINKS = "drinks", _("Drinks")
        OTHER = "other", _("Other")

    producer = models.ForeignKey(Producer, on_delete=models.PROTECT, related_name="products")
    gtin = models.CharField(_("GTIN"), max_length=14, unique=True, help_text=_("14 digits."))
    name = models.CharField(_("product name"), max_length=255)
    name_en = models.CharField(_("name in English"), max_length=255, blank=True)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    image = models.CharField(_("image (storage path)"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("description in English"), blank=True)
    trademark = models.CharField(_("trademark"), max_length=200, blank=True)
    standards = models.CharField(
        _("standards applied"), max_length=500, blank=True, help_text=_("e.g. TCVN 5250:2015")
    )
    shelf_life_days = models.PositiveIntegerField(_("shelf life (days)"), null=True, blank=True)
    ocop_stars = models.PositiveSmallIntegerField(_("OCOP stars"), null=True, blank=True)
    ocop_decision = models.CharField(_("OCOP decision"), max_length=120, blank=True)
    ocop_decided_on = models.DateField(_("OCOP decision date"), null=True, blank=True)
    ocop_issuer = models.CharField(_("OCOP granted by"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("registered"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ocop_stars__isnull=True)
                | models.Q(ocop_stars__gte=3, ocop_stars__lte=5),
                name="trace_ocop_stars_3_to_5",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Batch(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="batches")
    lot = models.CharField(_("lot"), max_length=20)
    produced_on = models.DateField(_("production date"))
    expires_on = models.DateField(_("expiry date"), null=True, blank=True)
    quantity = models.DecimalField(
        _("quantity"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    unit = models.CharField(_("unit"), max_length=10, blank=True)  # UN/CEFACT: KGM, LTR, EA...
    place = models.ForeignKey(
        Place,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="batches",
        verbose_name=_("produced at"),
    )
    serial_count = models.PositiveIntegerField(
        _("serialised items"), default=0, help_text=_("0 when items carry no serial number.")
    )
    created_at = models.DateTimeField(_("registered"), default=timezone.now)
    last_event_at = models.DateTimeField(_("last event"), null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["product", "-produced_on"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        constraints = [models.UniqueConstraint(fields=["product", "lot"], name="uniq_trace_lot")]

    def __str__(self) -> str:
        return f"{self.product.gtin}/{self.lot}"


class Event(models.Model):
    """One EPCIS 2.0 event. `event_id` is its canonical hash (ni:///sha-256;…?ver=CBV2.0);
    `document` is the event as JSON-LD, exactly as stored and served."""

    class Type(models.TextChoices):
        OBJECT = "ObjectEvent", "ObjectEvent"
        AGGREGATION = "AggregationEvent", "AggregationEvent"
        TRANSFORMATION = "TransformationEvent", "TransformationEvent"
        TRANSACTION = "TransactionEvent", "TransactionEvent"
        ASSOCIATION = "AssociationEvent", "AssociationEvent"

    event_id = models.CharField(_("event id"), max_length=200, unique=True)
    event_type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    action = models.CharField(_("action"), max_length=8, blank=True)
    event_time = models.DateTimeField(_("event time"), db_index=True)
    event_time_zone_offset = models.CharField(max_length=6, default="+07:00")
    record_time = models.DateTimeField(_("recorded"), default=timezone.now, db_index=True)
    biz_step = models.CharField(_("business step"), max_length=200, blank=True)
    disposition = models.CharField(_("disposition"), max_length=200, blank=True)
    read_point = models.CharField(_("read point"), max_length=300, blank=True)
    biz_location = models.CharField(
        _("business location"), max_length=300, blank=True, db_index=True
    )
    producer = models.ForeignKey(
        Producer, on_delete=models.PROTECT, related_name="events", verbose_name=_("recorded by")
    )
    captured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    capture_id = models.CharField(_("capture"), max_length=64, blank=True, db_index=True)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        verbose_name=_("corrects"),
    )
    document = models.JSONField(_("EPCIS event (JSON-LD)"))

    class Meta:
        ordering = ["event_time", "pk"]
        verbose_name = _("EPCIS event")
        verbose_name_plural = _("EPCIS events")
        indexes = [models.Index(fields=["event_type", "event_time"], name="tr_ev_type_time")]

    def __str__(self) -> str:
        return self.event_id


class EventEpc(models.Model):
    """Which identifiers an event names, for the query API: every EPC or class (with its GTIN,
    lot and serial parsed) in every list of the event."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="epcs")
    role = models.CharField(max_length=16)  # epc, parent, child, input, output, quantity, ...
    epc = models.CharField(max_length=300, db_index=True)
    gtin = models.CharField(max_length=14, blank=True, db_index=True)
    lot = models.CharField(max_length=20, blank=True)
    serial = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name = _("event identifier")
        verbose_name_plural = _("event identifiers")
        indexes = [models.Index(fields=["gtin", "lot"], name="tr_epc_gtin_lot")]

    def __str__(self) -> str:
        return self.epc


class EventLink(models.Model):
    """An event in one batch's hash chain: chain_hash = SHA-256(previous chain_hash || event
    hash), seq counting from 1. Role tells how the batch appears (input, output, child...)."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="links")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="links")
    role = models.CharField(max_length=16)
    seq = models.PositiveIntegerField()
    chain_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["batch", "seq"]
        verbose_name = _("batch chain link")
        verbose_name_plural = _("batch chain links")
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="uniq_trace_chain_seq"),
            models.UniqueConstraint(fields=["batch", "event"], name="uniq_trace_chain_event"),
        ]
        indexes = [models.Index(fields=["event", "role"], name="tr_link_event")]

    def __str__(self) -> str:
        return f"{self.batch} #{self.seq}"


class Anchor(models.Model):
    """The platform's signature over every batch's chain head at a moment (a Merkle root over
    AnchorItems), so the consumer page and an auditor can show nothing was altered since."""

    created_at = models.DateTimeField(_("anchored"), default=timezone.now)
    item_count = models.PositiveIntegerField(_("batches"))
    root_hash = models.CharField(_("root hash"), max_length=64)
    signature = models.TextField(_("signature (JWS)"))

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"
        verbose_name = _("anchor")
        verbose_name_plural = _("anchors")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} ({self.item_count})"


class AnchorItem(models.Model):
    anchor = models.ForeignKey(Anchor, on_delete=models.CASCADE, related_name="items")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="anchor_items")
    seq = models.PositiveIntegerField()
    chain_hash = models.CharField(max_length=64)
    position = models.PositiveIntegerField()  # leaf position in the anchor's Merkle tree

    class Meta:
        verbose_name = _("anchored chain head")
        verbose_name_plural = _("anchored chain heads")
        constraints = [
            models.UniqueConstraint(fields=["anchor", "batch"], name="uniq_trace_anchor_batch")
        ]
        indexes = [models.Index(fields=["batch", "anchor"], name="tr_anchor_batch")]

    def __str__(self) -> str:
        return f"{self.batch} @ {self.anchor_id}"


class Recall(models.Model):
    """The food-safety office recalls a batch; everything derived from it is flagged."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="recalls")
    reason = models.TextField(_("reason"))
    reason_en = models.TextField(_("reason in English"), blank=True)
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("agency")
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("recalled"), default=timezone.now)
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    lift_reason = models.TextField(_("reason for lifting"), blank=True)

    class Meta:
        ordering = ["-decided_at"]
        verbose_name = _("recall")
        verbose_name_plural = _("recalls")

    def __str__(self) -> str:
        return f"{self.batch} ({self.decided_at:%Y-%m-%d})"


class RecallFlag(models.Model):
    """A batch flagged by a recall: the recalled batch itself (depth 0) or one derived from it
    through transformation or aggregation events (depth ≥ 1, via the event that links it)."""

    recall = models.ForeignKey(Recall, on_delete=models.CASCADE, related_name="flags")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="recall_flags")
    depth = models.PositiveSmallIntegerField(default=0)
    via_event = models.ForeignKey(
        Event, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("recalled batch")
        verbose_name_plural = _("recalled batches")
        constraints = [
            models.UniqueConstraint(fields=["recall", "batch"], name="uniq_trace_recall_flag")
        ]
        indexes = [models.Index(fields=["batch"], name="tr_flag_batch")]

    def __str__(self) -> str:
        return f"{self.batch} ← {self.recall_id}"


class ScanDay(models.Model):
    """How many times a product's labels were scanned on a day (by the resolver)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="scan_days")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("scans per day")
        verbose_name_plural = _("scans per day")
        constraints = [
            models.UniqueConstraint(fields=["product", "day"], name="uniq_trace_scan_day")
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.day}: {self.count}"
