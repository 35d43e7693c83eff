"""Back-office configuration of the exchange: nodes, members, systems and services are edited
here (or imported with `thudo exchange config import`); grants change through the grant page
(thudo.exchange.services keeps the audit trail), and messages and the log are only looked at."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Grant, LogEntry, Member, Message, Node, Service, System, TreeHead


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "base_url", "is_active")
    search_fields = ("code", "name", "base_url")


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "member_class", "agency", "is_active")
    list_filter = ("member_class", "is_active")
    search_fields = ("code", "name", "name_en")
    autocomplete_fields = ("agency",)


@admin.register(System)
class SystemAdmin(admin.ModelAdmin):
    list_display = ("__str__", "identifier", "node", "is_active")
    list_filter = ("node", "is_active")
    list_select_related = ("member", "node")
    search_fields = ("code", "name", "member__code")
    raw_id_fields = ("user",)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("__str__", "identifier", "target", "personal_data", "is_active")
    list_filter = ("personal_data", "is_active", "system__node")
    list_select_related = ("system__member",)
    search_fields = ("code", "name", "system__code", "system__member__code")


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ("service", "client", "legal_basis", "granted_at", "expires_at", "revoked_at")
    list_select_related = ("service", "client")
    search_fields = ("legal_basis", "client__code", "service__code")


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("message_id", "side", "client", "service", "status", "error_code", "started_at")
    list_filter = ("side", "error_code")
    search_fields = ("message_id", "client", "service", "subject")
    date_hierarchy = "started_at"
    exclude = ("response_body",)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).exclude(side="jti").defer("response_body")


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    list_display = ("index", "kind", "message_id", "logged_at", "archived")
    search_fields = ("message_id",)
    exclude = ("leaf_hash",)


@admin.register(TreeHead)
class TreeHeadAdmin(ReadOnlyAdmin):
    list_display = ("tree_size", "timestamp")
    exclude = ("root_hash",)
