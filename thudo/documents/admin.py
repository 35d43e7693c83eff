from django.contrib import admin

from .models import Document, DocumentVersion, PkiObject, SigningJob


class VersionInline(admin.TabularInline):
    model = DocumentVersion
    extra = 0
    can_delete = False
    readonly_fields = ("number", "file", "sha256", "size", "signatures", "note", "created_at")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "agency", "reference", "access", "created_at")
    list_filter = ("kind", "access")
    search_fields = ("title", "reference", "public_id")
    raw_id_fields = ("agency", "subject", "created_by")
    inlines = [VersionInline]


@admin.register(PkiObject)
class PkiObjectAdmin(admin.ModelAdmin):
    """Keys are managed with `thudo keys`; the admin shows certificates, never keys."""

    list_display = ("subject", "role", "agency", "serial", "not_after", "is_active", "revoked_at")
    list_filter = ("role", "is_active")
    search_fields = ("subject", "serial")
    exclude = ("key_pkcs12",)
    readonly_fields = (
        "role",
        "agency",
        "subject",
        "serial",
        "certificate_pem",
        "pkcs11",
        "not_before",
        "not_after",
        "is_active",
        "revoked_at",
        "revocation_reason",
        "created_at",
    )

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(SigningJob)
class SigningJobAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "agency",
        "requested_by",
        "status",
        "done",
        "failed",
        "total",
        "created_at",
    )
    list_filter = ("status",)
    raw_id_fields = ("agency", "requested_by", "documents")
