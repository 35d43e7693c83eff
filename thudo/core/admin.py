from django.contrib import admin

from .models import AdminUnit, AuditEvent, CalendarException


@admin.register(AdminUnit)
class AdminUnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent", "latitude", "longitude")
    list_filter = ("level",)
    search_fields = ("code", "name", "codename")
    raw_id_fields = ("parent",)


@admin.register(CalendarException)
class CalendarExceptionAdmin(admin.ModelAdmin):
    list_display = ("date", "kind", "name")
    list_filter = ("kind",)
    date_hierarchy = "date"


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = (
        "created_at",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "from_state",
        "to_state",
        "ip_address",
    )
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor_label", "request_id")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
