"""Back office for traceability. Producers, places, products and batches may be corrected here;
events, their identifiers, chain links, anchors and recalls are records of what happened and
are read-only (no add, change or delete: events are immutable, corrections are new events)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import (
    Anchor,
    AnchorItem,
    Batch,
    Certification,
    Event,
    EventEpc,
    EventLink,
    Place,
    Producer,
    ProducerMember,
    Product,
    Recall,
    RecallFlag,
    ScanDay,
)


class MemberInline(admin.TabularInline):
    model = ProducerMember
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Producer)
class ProducerAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "business_code", "ward", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "name_en", "business_code", "gln", "gs1_company_prefix"]
    raw_id_fields = ["ward"]
    inlines = [MemberInline]


@admin.register(Place)
class PlaceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "code", "gln", "producer", "ward"]
    list_filter = ["kind"]
    search_fields = ["name", "code", "gln", "producer__name"]
    raw_id_fields = ["producer", "ward"]


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    list_display = ["scheme", "number", "producer", "product", "issuer", "valid_from", "valid_to"]
    list_filter = ["scheme"]
    search_fields = ["number", "producer__name", "issuer"]
    raw_id_fields = ["producer", "product"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "gtin", "producer", "category", "ocop_stars", "is_active"]
    list_filter = ["category", "ocop_stars", "is_active"]
    search_fields = ["name", "name_en", "gtin", "producer__name"]
    raw_id_fields = ["producer"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["product", "lot", "produced_on", "expires_on", "serial_count", "last_event_at"]
    search_fields = ["lot", "product__gtin", "product__name"]
    raw_id_fields = ["product", "place"]
    readonly_fields = ["last_event_at"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: viewed, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["event_time", "event_type", "biz_step", "disposition", "producer", "corrects"]
    list_filter = ["event_type", "biz_step"]
    search_fields = ["event_id", "capture_id", "biz_location", "read_point"]
    date_hierarchy = "event_time"
    list_select_related = ["producer", "corrects"]


@admin.register(EventEpc)
class EventEpcAdmin(ReadOnlyAdmin):
    list_display = ["epc", "role", "gtin", "lot", "serial", "event"]
    search_fields = ["epc", "gtin", "lot"]


@admin.register(EventLink)
class EventLinkAdmin(ReadOnlyAdmin):
    list_display = ["batch", "seq", "role", "event", "chain_hash"]
    search_fields = ["batch__lot", "batch__product__gtin", "chain_hash"]
    list_select_related = ["batch__product", "event"]


class AnchorItemInline(admin.TabularInline):
    model = AnchorItem
    extra = 0
    can_delete = False
    readonly_fields = ["batch", "seq", "chain_hash", "position"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Anchor)
class AnchorAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "item_count", "root_hash"]
    inlines = [AnchorItemInline]


@admin.register(Recall)
class RecallAdmin(ReadOnlyAdmin):
    """Recalls are decided and lifted on the department's pages (audited), not here."""

    list_display = ["batch", "agency", "decided_at", "lifted_at"]
    list_select_related = ["batch__product", "agency"]


@admin.register(RecallFlag)
class RecallFlagAdmin(ReadOnlyAdmin):
    list_display = ["recall", "batch", "depth", "via_event"]


@admin.register(ScanDay)
class ScanDayAdmin(ReadOnlyAdmin):
    list_display = ["product", "day", "count"]
    date_hierarchy = "day"
