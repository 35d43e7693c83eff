"""Back-office editing of the catalog. Saving a procedure publishes a new version when its rules
changed (after the inlines are saved, so the snapshot holds the papers, fields and steps)."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .models import (
    FormField,
    LifeEvent,
    Procedure,
    ProcedureVersion,
    ProcessingStep,
    RequiredPaper,
    Sector,
)
from .services import procedure_publish
from .specs import FIELD_TYPES, source_parse


def _live_forms(formset: forms.BaseInlineFormSet) -> list[forms.Form]:
    """The inline forms that will be saved: valid, filled in, not marked for deletion."""
    return [
        f
        for f in formset.forms
        if getattr(f, "cleaned_data", None) and not f.cleaned_data.get("DELETE", False)
    ]


class StepFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        total = sum(int(f.cleaned_data.get("share") or 0) for f in _live_forms(self))
        if total != 100:
            raise ValidationError(
                format_lazy(
                    _("The steps' shares of the deadline must add up to 100% (now {total}%)."),
                    total=total,
                ),
                code="shares",
            )


class FieldFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        names = [f.cleaned_data.get("name") for f in _live_forms(self)]
        result_fields = self.instance.result_fields or []
        if not isinstance(result_fields, list):
            raise ValidationError(_("The result's fields must be a list of form field names."))
        missing = [str(n) for n in result_fields if n not in names]
        if missing:
            raise ValidationError(
                format_lazy(
                    _("The result names form fields that do not exist: {names}."),
                    names=", ".join(missing),
                ),
                code="result_fields",
            )


class FormFieldForm(forms.ModelForm):
    class Meta:
        model = FormField
        fields = (
            "order",
            "name",
            "type",
            "required",
            "label",
            "label_en",
            "help_text",
            "help_text_en",
            "choices",
            "pattern",
            "max_length",
            "min_value",
            "max_value",
            "source",
        )

    def clean_source(self) -> str:
        """Once-only: "<service identifier>#<JSON pointer>" of a service on the exchange."""
        value = str(self.cleaned_data.get("source") or "").strip()
        if not value:
            return ""
        parsed = source_parse(value)
        if parsed is None:
            raise ValidationError(
                _(
                    "Write the source as <service identifier>#<JSON pointer>, e.g. "
                    "VN/GOV/BCA/CSDLQGDC/person#/full_name."
                ),
                code="source",
            )
        if not _service_exists(parsed[0]):
            raise ValidationError(
                format_lazy(
                    _("No active exchange service has the identifier {service}."),
                    service=parsed[0],
                ),
                code="source_service",
            )
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("type")
        choices = data.get("choices") or []
        if kind == "choice":
            if not isinstance(choices, list) or not choices:
                self.add_error("choices", _("A choice field needs at least one choice."))
            elif not all(
                isinstance(c, list) and 2 <= len(c) <= 3 and all(isinstance(x, str) for x in c)
                for c in choices
            ):
                self.add_error("choices", _('Write each choice as ["value", "Nhãn", "Label"].'))
        if kind not in FIELD_TYPES:
            self.add_error("type", _("Unknown field type."))
        if pattern := data.get("pattern"):
            try:
                re.compile(pattern)
            except re.error:
                self.add_error("pattern", _("This is not a valid regular expression."))
        low, high = data.get("min_value"), data.get("max_value")
        if low is not None and high is not None and low > high:
            self.add_error("max_value", _("The maximum is below the minimum."))
        return data


def _service_exists(identifier: str) -> bool:
    """Whether the exchange knows an active service with this identifier (VN/GOV/M/S/service)."""
    from thudo.exchange.models import Service

    instance, member_class, member, system, code = identifier.split("/")
    return Service.objects.filter(
        system__member__instance=instance,
        system__member__member_class=member_class,
        system__member__code=member,
        system__code=system,
        code=code,
        is_active=True,
    ).exists()


class PaperInline(admin.TabularInline):
    model = RequiredPaper
    extra = 0
    fields = ("order", "code", "name", "name_en", "required", "file_types", "max_mb")


class FieldInline(admin.StackedInline):
    model = FormField
    form = FormFieldForm
    formset = FieldFormSet
    extra = 0
    fields = (
        ("order", "name", "type", "required"),
        ("label", "label_en"),
        ("help_text", "help_text_en"),
        "choices",
        ("pattern", "max_length", "min_value", "max_value"),
        "source",
    )


class StepInline(admin.TabularInline):
    model = ProcessingStep
    formset = StepFormSet
    extra = 0
    fields = ("order", "name", "name_en", "role", "share")


class VersionInline(admin.TabularInline):
    model = ProcedureVersion
    extra = 0
    can_delete = False
    fields = ("number", "created_at", "created_by")
    readonly_fields = ("number", "created_at", "created_by")
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Sector)
class SectorAdmin(admin.ModelAdmin):
    list_display: tuple[str, ...] = ("name", "name_en", "code", "order", "count")
    search_fields = ("name", "name_en", "code")
    ordering = ("order", "name")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).annotate(n=Count("procedures"))

    @admin.display(description=_("procedures"), ordering="n")
    def count(self, obj: Any) -> int:
        return int(obj.n)


@admin.register(LifeEvent)
class LifeEventAdmin(SectorAdmin):
    list_display = ("name", "name_en", "code", "icon", "order", "count")


class ProcedureForm(forms.ModelForm):
    class Meta:
        model = Procedure
        fields = "__all__"  # noqa: DJ007 — the admin's fieldsets choose the fields

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "eid_level_required" in self.fields:
            # Left out of a form (older pages and scripts): no e-ID level is demanded.
            self.fields["eid_level_required"].required = False

    def clean_eid_level_required(self) -> int:
        return int(self.cleaned_data.get("eid_level_required") or 0)


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    form = ProcedureForm
    list_display = (
        "code",
        "name",
        "sector",
        "agency_kind",
        "deadline_days",
        "online_level",
        "is_active",
    )
    list_filter = ("sector", "agency_kind", "online_level", "is_active", "life_events")
    search_fields = ("code", "name", "name_en", "search_text")
    filter_horizontal = ("life_events",)
    inlines = [PaperInline, FieldInline, StepInline, VersionInline]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "code",
                    "name",
                    "name_en",
                    "sector",
                    "life_events",
                    "is_active",
                    "eid_level_required",
                )
            },
        ),
        (_("Description"), {"fields": ("description", "description_en"), "classes": ["collapse"]}),
        (
            _("Competence and deadline"),
            {
                "fields": (
                    "agency_kind",
                    "department_code",
                    "online_level",
                    "deadline_days",
                    "cutoff",
                    "fee",
                    "fee_waived_online",
                )
            },
        ),
        (
            _("Result"),
            {"fields": ("result_title", "result_title_en", "result_body", "result_fields")},
        ),
    )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        procedure = form.instance
        before = procedure.versions.order_by("-number").values_list("number", flat=True).first()
        version = procedure_publish(procedure=procedure, actor=request.user)
        if version.number != before:
            message = format_lazy(_("Published version {number}."), number=version.number)
        else:
            message = format_lazy(
                _("The rules did not change; version {number} stays current."),
                number=version.number,
            )
        messages.info(request, str(message))


@admin.register(ProcedureVersion)
class ProcedureVersionAdmin(admin.ModelAdmin):
    """Versions are immutable: a dossier keeps the rules it was submitted under."""

    list_display = ("procedure", "number", "created_at", "created_by")
    list_filter = ("procedure__sector",)
    search_fields = ("procedure__code", "procedure__name")
    fields = ("procedure", "number", "created_at", "created_by", "rules")
    readonly_fields = fields

    @admin.display(description=_("rules"))
    def rules(self, obj: ProcedureVersion) -> str:
        text = json.dumps(obj.spec, ensure_ascii=False, indent=2)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
