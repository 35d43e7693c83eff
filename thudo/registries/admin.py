"""The base registries in the back office, read-only: the data belongs to its owners (the
ministries and the land department) and changes in their own systems, not here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Business, Household, InsuranceRecord, LandOwner, LandParcel, Person


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PersonInline(admin.TabularInline):
    model = Person
    fields = ("personal_id", "full_name", "birth_date", "sex", "relation_to_head")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Household)
class HouseholdAdmin(ReadOnlyAdmin):
    list_display = ("code", "address", "ward")
    search_fields = ("code", "address")
    list_select_related = ("ward",)
    inlines = [PersonInline]


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ("personal_id", "full_name", "birth_date", "sex", "household", "eid_level")
    list_filter = ("sex", "eid_level", "relation_to_head")
    search_fields = ("personal_id", "full_name")
    list_select_related = ("household",)


@admin.register(Business)
class BusinessAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "kind", "status", "registered_on", "representative_id")
    list_filter = ("kind", "status")
    search_fields = ("code", "name", "representative_id")


class LandOwnerInline(admin.TabularInline):
    model = LandOwner
    fields = ("personal_id",)
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LandParcel)
class LandParcelAdmin(ReadOnlyAdmin):
    list_display = ("ward", "map_sheet", "parcel_number", "land_use", "area_m2", "address")
    list_filter = ("land_use",)
    search_fields = ("certificate_number", "address", "owners__personal_id")
    list_select_related = ("ward",)
    inlines = [LandOwnerInline]


@admin.register(InsuranceRecord)
class InsuranceRecordAdmin(ReadOnlyAdmin):
    list_display = ("insurance_number", "personal_id", "status", "employer_name")
    list_filter = ("status",)
    search_fields = ("insurance_number", "personal_id", "health_card_number")
