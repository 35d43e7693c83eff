from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Agency, ApiToken, LoginThrottle, Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("agency",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "full_name", "kind", "personal_id", "is_active", "is_staff")
    list_filter = ("kind", "is_active", "is_staff")
    search_fields = ("username", "full_name", "personal_id", "email")
    raw_id_fields = ("home_unit",)
    inlines = [MembershipInline]
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        (
            _("Thudo"),
            {
                "fields": (
                    "kind",
                    "full_name",
                    "personal_id",
                    "sex",
                    "birth_date",
                    "phone",
                    "home_unit",
                )
            },
        ),
    )


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent", "admin_unit", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name", "name_en")
    raw_id_fields = ("parent", "admin_unit")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "digest", "created_at", "last_used_at")
    raw_id_fields = ("user",)


@admin.register(LoginThrottle)
class LoginThrottleAdmin(admin.ModelAdmin):
    list_display = ("key", "failures", "last_failure_at", "blocked_until")
    search_fields = ("key",)
