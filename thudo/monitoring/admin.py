"""Back-office configuration of the programme: programmes, pillars, targets, indicators (a
computed indicator picks its source among the registry's indicators), periods, tasks, DTI
components. Reported values, snapshots and reminders are read-only here: they change only
through the services (review, the daily job)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import (
    DtiComponent,
    Indicator,
    Pillar,
    Programme,
    Reminder,
    ReportedValue,
    ReportingPeriod,
    Snapshot,
    Target,
    Task,
)
from .sources import sources_available


def _source_choices() -> list[tuple[str, str]]:
    choices = [("", "—")]
    for code, label, unit in sources_available():
        choices.append((code, f"{code} — {label}" + (f" ({unit})" if unit else "")))
    return choices


class IndicatorForm(forms.ModelForm):
    source = forms.ChoiceField(label=_("data source"), required=False, choices=_source_choices)

    class Meta:
        model = Indicator
        fields = (
            "target",
            "code",
            "name",
            "name_en",
            "kind",
            "source",
            "unit",
            "min_value",
            "max_value",
            "frequency",
            "evidence_required",
            "agency",
            "is_primary",
            "order",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, source = data.get("kind"), data.get("source")
        if kind == Indicator.Kind.COMPUTED and not source:
            raise ValidationError(
                {"source": _("A computed indicator needs a data source.")}, code="source"
            )
        if kind == Indicator.Kind.REPORTED and source:
            raise ValidationError(
                {"source": _("A reported indicator has no data source.")}, code="source"
            )
        low, high = data.get("min_value"), data.get("max_value")
        if low is not None and high is not None and low > high:
            raise ValidationError(
                {"max_value": _("The largest valid value is below the smallest.")}, code="range"
            )
        return data


class PillarInline(admin.TabularInline):
    model = Pillar
    extra = 0


class IndicatorInline(admin.TabularInline):
    model = Indicator
    form = IndicatorForm
    extra = 0
    autocomplete_fields = ("agency",)


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    fields = ("title", "agency", "owner", "due", "state")
    autocomplete_fields = ("agency",)
    raw_id_fields = ("owner",)


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "legal_basis", "parent", "start", "end", "agency")
    search_fields = ("code", "name", "name_en", "legal_basis")
    autocomplete_fields = ("agency",)
    inlines = (PillarInline,)


@admin.register(Pillar)
class PillarAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "programme", "order")
    list_filter = ("programme",)
    search_fields = ("code", "name", "name_en")


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "pillar",
        "baseline",
        "target_value",
        "unit",
        "deadline",
        "agency",
        "status",
        "current_value",
    )
    list_filter = ("status", "pillar__programme", "pillar", "direction")
    search_fields = ("code", "name", "name_en")
    autocomplete_fields = ("agency",)
    readonly_fields = ("status", "current_value", "forecast_value", "evaluated_at")
    inlines = (IndicatorInline, TaskInline)


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin):
    form = IndicatorForm
    list_display = ("code", "name", "kind", "source", "unit", "frequency", "agency", "target")
    list_filter = ("kind", "frequency", "evidence_required")
    search_fields = ("code", "name", "name_en", "source")
    autocomplete_fields = ("agency",)


@admin.register(ReportingPeriod)
class ReportingPeriodAdmin(admin.ModelAdmin):
    list_display = ("programme", "frequency", "start", "end", "due", "closed_at")
    list_filter = ("programme", "frequency")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "target", "agency", "owner", "due", "state", "done_at")
    list_filter = ("state", "target__pillar")
    search_fields = ("title",)
    autocomplete_fields = ("agency",)
    raw_id_fields = ("owner",)
    readonly_fields = ("done_at", "reminded_at", "escalated_at")


@admin.register(DtiComponent)
class DtiComponentAdmin(admin.ModelAdmin):
    list_display = ("year", "group", "code", "name", "max_points", "points", "indicator")
    list_filter = ("year", "group")
    search_fields = ("code", "name", "name_en")
    readonly_fields = ("entered_by", "updated_at")


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReportedValue)
class ReportedValueAdmin(_ReadOnly):
    list_display = ("indicator", "period", "value", "state", "submitted_by", "submitted_at")
    list_filter = ("state",)
    search_fields = ("indicator__code", "indicator__name")


@admin.register(Snapshot)
class SnapshotAdmin(_ReadOnly):
    list_display = ("indicator", "date", "value", "status", "forecast_value", "taken_at")
    list_filter = ("status",)
    date_hierarchy = "date"
    search_fields = ("indicator__code",)


@admin.register(Reminder)
class ReminderAdmin(_ReadOnly):
    list_display = ("key", "sent_at", "recipients")
    search_fields = ("key",)
