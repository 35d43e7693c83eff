"""Back-office configuration of citizen feedback: categories (with their extra questions) and
response templates are edited here; reports, moderation acts and bans are only looked at (they
change through the services, which keep the timeline and the audit trail)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .models import Ban, Category, ModerationAction, Report, ResponseTemplate

QUESTION_TYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


def questions_validate(value: Any) -> None:
    """The Open311 attribute list: codes unique, known data types, lists with values."""
    if value in (None, ""):
        return
    if not isinstance(value, list):
        raise ValidationError(_("The questions are a JSON list."), code="questions")
    seen: set[str] = set()
    for index, question in enumerate(value, start=1):
        if not isinstance(question, dict) or not str(question.get("code") or "").strip():
            raise ValidationError(
                format_lazy(_("Question {n} needs a code."), n=index), code="questions"
            )
        code = str(question["code"])
        if code in seen:
            raise ValidationError(
                format_lazy(_("The code “{code}” is used twice."), code=code), code="questions"
            )
        seen.add(code)
        if not str(question.get("label") or "").strip():
            raise ValidationError(
                format_lazy(_("Question {n} needs a label."), n=index), code="questions"
            )
        datatype = str(question.get("datatype") or "string")
        if datatype not in QUESTION_TYPES:
            raise ValidationError(
                format_lazy(
                    _("Question {n}: the data type must be one of {types}."),
                    n=index,
                    types=", ".join(QUESTION_TYPES),
                ),
                code="questions",
            )
        if datatype.endswith("valuelist"):
            values = question.get("values")
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, dict) and str(v.get("key") or "") for v in values)
            ):
                raise ValidationError(
                    format_lazy(
                        _("Question {n}: a list needs values, each with a key and a name."),
                        n=index,
                    ),
                    code="questions",
                )


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = (
            "code",
            "name",
            "name_en",
            "group",
            "keywords",
            "order",
            "is_active",
            "description",
            "description_en",
            "notice",
            "notice_en",
            "handler",
            "department",
            "default_urgency",
            "normal_days",
            "complex_days",
            "redirect_phone",
            "questions",
        )

    def clean_questions(self) -> Any:
        value = self.cleaned_data.get("questions")
        questions_validate(value)
        return value or []


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = (
        "code",
        "name",
        "group",
        "handler",
        "department",
        "default_urgency",
        "normal_days",
        "redirect_phone",
        "is_active",
        "order",
    )
    list_filter = ("is_active", "handler", "default_urgency", "group")
    list_editable = ("order", "is_active")
    search_fields = ("code", "name", "name_en", "keywords")
    autocomplete_fields = ("department",)
    fieldsets = (
        (None, {"fields": ("code", "name", "name_en", "group", "keywords", "order", "is_active")}),
        (
            _("Texts shown to residents"),
            {"fields": ("description", "description_en", "notice", "notice_en")},
        ),
        (
            _("Handling"),
            {
                "fields": (
                    "handler",
                    "department",
                    "default_urgency",
                    "normal_days",
                    "complex_days",
                    "redirect_phone",
                )
            },
        ),
        (_("Extra questions (Open311 attributes, JSON)"), {"fields": ("questions",)}),
    )


@admin.register(ResponseTemplate)
class ResponseTemplateAdmin(admin.ModelAdmin):
    list_display = ("title", "agency", "category")
    list_filter = ("category",)
    search_fields = ("title", "body")
    autocomplete_fields = ("agency",)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(_ReadOnly):
    list_display = (
        "id",
        "category",
        "status",
        "visibility",
        "agency",
        "unit",
        "urgency",
        "level",
        "submitted_at",
        "accept_due",
        "resolve_due",
        "rating",
    )
    list_filter = ("status", "visibility", "urgency", "level", "source", "category")
    search_fields = ("=id", "description", "address")
    date_hierarchy = "submitted_at"
    list_select_related = ("category", "agency", "unit")
    show_full_result_count = False  # a million rows: no COUNT(*) on every page
    # Personal data stays out of the back office's list and page.
    exclude = ("reporter_name", "reporter_email", "reporter_phone", "device_id")
    raw_id_fields = ("reporter", "client", "unit", "agency")


@admin.register(ModerationAction)
class ModerationActionAdmin(_ReadOnly):
    list_display = ("created_at", "action", "report", "target_user", "moderator")
    list_filter = ("action",)
    search_fields = ("reason",)
    raw_id_fields = ("report", "target_user", "moderator")


@admin.register(Ban)
class BanAdmin(_ReadOnly):
    list_display = ("user", "created_at", "until", "lifted_at", "created_by")
    raw_id_fields = ("user", "created_by")
