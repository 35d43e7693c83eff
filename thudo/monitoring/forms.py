"""The monitoring pages' forms: parse what the user typed; the rules are the services'."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ThudoError
from thudo.dossiers.index import preset_period

from .models import Indicator, ReportingPeriod

PERIODS = [
    ("month", _("Month")),
    ("quarter", _("Quarter")),
    ("year", _("Year")),
]
GROUPS = [("agency", _("By agency")), ("unit", _("By ward or commune"))]
ORDERS = [("score", _("Service score")), ("on_time", _("On-time rate"))]

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


class NumberField(forms.DecimalField):
    """A decimal written either way: 72,5 or 72.5; 1.234,5 or 1,234.5 (the last separator is
    the decimal one when both appear). Spaces are ignored."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().replace(" ", "").replace("\u00a0", "")
            if "," in text and "." in text:
                decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
                group_sep = "." if decimal_sep == "," else ","
                text = text.replace(group_sep, "").replace(decimal_sep, ".")
            elif text.count(",") == 1:
                text = text.replace(",", ".")
            value = text
        return super().to_python(value)


class PeriodForm(forms.Form):
    """A month, a quarter or a year: the one containing a day (default today)."""

    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False)
    day = forms.DateField(
        label=_("Containing the day"),
        required=False,
        widget=DATE_WIDGET,
        input_formats=DATE_FORMATS,
        help_text=_("Empty: today."),
    )
    default_period = "quarter"

    def values(self) -> dict[str, Any]:
        """The cleaned values, the defaults for anything missing or wrong."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {name: data.get(name) for name in self.fields}

    def bounds(self) -> tuple[str, date, date]:
        values = self.values()
        name = values.get("period") or self.default_period
        day = values.get("day") or timezone.localdate()
        first, last = preset_period(name, day) or preset_period("year", day)  # type: ignore[misc]
        return name, first, last


class RankingForm(PeriodForm):
    group = forms.ChoiceField(label=_("Rank"), choices=GROUPS, required=False)
    order = forms.ChoiceField(label=_("Ranked by"), choices=ORDERS, required=False)


class MonthForm(forms.Form):
    """A month written YYYY-MM (the month input's format); default this month."""

    month = forms.CharField(
        label=_("Month"),
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month", "pattern": r"\d{4}-\d{2}"}),
    )

    def clean_month(self) -> date | None:
        raw = (self.cleaned_data.get("month") or "").strip()
        if not raw:
            return None
        match = re.fullmatch(r"(\d{4})-(\d{1,2})", raw)
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
            raise forms.ValidationError(_("Write the month as YYYY-MM, e.g. 2025-10."))
        return date(int(match.group(1)), int(match.group(2)), 1)

    def first_day(self) -> date:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return data.get("month") or timezone.localdate().replace(day=1)


class YearForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)

    def year_value(self, default: int | None = None) -> int:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return data.get("year") or default or timezone.localdate().year


class PeriodChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _("{start} to {end} (due {due})").format(
            start=obj.start.strftime("%d/%m/%Y"),
            end=obj.end.strftime("%d/%m/%Y"),
            due=obj.due.strftime("%d/%m/%Y"),
        )


class ReportForm(forms.Form):
    """A value for one reported indicator. The period list offers the open periods; any period
    of the indicator's programme and frequency is accepted here, so that the service says why a
    closed one is refused."""

    period = PeriodChoiceField(
        label=_("Period"), queryset=ReportingPeriod.objects.none(), empty_label=None
    )
    value = NumberField(
        label=_("Value"),
        max_digits=14,
        decimal_places=2,
        # Text, not type=number: browsers refuse "72,5", the way Vietnamese write decimals.
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    unit = forms.CharField(label=_("Unit"), max_length=20)
    evidence = forms.FileField(
        label=_("Evidence"),
        required=False,
        help_text=_("A PDF, JPEG, PNG or XLSX file of at most 10 MB."),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".pdf,.jpg,.jpeg,.png,.xlsx,application/pdf,image/jpeg,image/png"}
        ),
    )
    note = forms.CharField(
        label=_("Explanation"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(
        self, *args: Any, indicator: Indicator, open_periods: list[ReportingPeriod], **kwargs: Any
    ) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("unit", indicator.unit)
        if open_periods:
            kwargs["initial"].setdefault("period", open_periods[-1].pk)
        super().__init__(*args, **kwargs)
        self.indicator = indicator
        field = self.fields["period"]
        assert isinstance(field, PeriodChoiceField)
        field.queryset = ReportingPeriod.objects.filter(
            programme_id=indicator.target.pillar.programme_id, frequency=indicator.frequency
        )
        field.widget.choices = [(p.pk, field.label_from_instance(p)) for p in open_periods]
        if indicator.evidence_required:
            self.fields["evidence"].widget.attrs["aria-required"] = "true"
            self.fields["evidence"].help_text = _(
                "Required: a PDF, JPEG, PNG or XLSX file of at most 10 MB."
            )
        self.fields["value"].widget.attrs["inputmode"] = "decimal"


class NoteForm(forms.Form):
    """The reviewer's note (required when returning a value: the service says so)."""

    note = forms.CharField(
        label=_("Note"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )


class DtiPointsForm(forms.Form):
    points = NumberField(label=_("Points"), max_digits=7, decimal_places=2)


# --- errors ----------------------------------------------------------------------------------


def apply_domain_error(form: forms.Form, exc: ThudoError) -> None:
    """A domain error's messages on the form's fields (unknown fields: on the form)."""
    data = exc.as_dict()
    placed = False
    for name, messages in data["fields"].items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)
            placed = True
    if not placed:
        form.add_error(None, data["message"])


def error_summary(*page_forms: forms.Form) -> list[dict[str, str]]:
    """Every error of the page, each linking to its field (the summary at the top)."""
    out: list[dict[str, str]] = []
    for form in page_forms:
        if not form.is_bound:
            continue
        for name, errors in form.errors.items():
            if name == NON_FIELD_ERRORS:
                out += [{"href": "", "label": "", "message": str(e)} for e in errors]
                continue
            bound = form[name]
            for error in errors:
                out.append(
                    {
                        "href": f"#{bound.id_for_label}",
                        "label": str(bound.label),
                        "message": str(error),
                    }
                )
    return out
