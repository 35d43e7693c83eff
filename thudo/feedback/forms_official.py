"""Forms of the officials' pages: the queue's filters, one form per action on a report, the
moderators' forms and the statistics period.

The forms only parse what the official typed; every rule lives in the services (a form's
`arguments()` are the service's keyword arguments).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency
from thudo.core.errors import ThudoError

from .models import Assignment, Report, ResponseTemplate

PHOTO_ACCEPT = "image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp"
TEXT_MAX = 4000

OVERDUE_CHOICES = [("", _("Any due time")), ("1", _("Overdue only"))]
QUEUE_STATES = [
    ("", _("Any state")),
    (Assignment.State.PENDING, _("Waiting to be accepted")),
    (Assignment.State.ACCEPTED, _("Being handled")),
]


def agency_label(agency: Agency) -> str:
    return f"{agency.code} — {agency.name}"


class AgencyChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return agency_label(obj)


class AgencyMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return agency_label(obj)


def _other_agencies(exclude: Iterable[int]) -> Any:
    return Agency.objects.filter(is_active=True).exclude(pk__in=list(exclude)).order_by("code")


# --- the queue -------------------------------------------------------------------------------


class QueueFilterForm(forms.Form):
    """The queue's filters, read from the query string."""

    unit = AgencyChoiceField(
        label=_("Unit"),
        required=False,
        queryset=Agency.objects.none(),
        to_field_name="code",
        empty_label=_("All my units"),
    )
    state = forms.ChoiceField(label=_("State"), required=False, choices=QUEUE_STATES)
    overdue = forms.ChoiceField(label=_("Due time"), required=False, choices=OVERDUE_CHOICES)

    def __init__(self, *args: Any, agency_ids: Sequence[int] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Agency.objects.filter(  # type: ignore[attr-defined]
            pk__in=list(agency_ids)
        ).order_by("code")

    def filters(self) -> dict[str, Any]:
        """The keyword arguments of `selectors.report_queue` (empty ones left out)."""
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        out: dict[str, Any] = {}
        if data.get("unit"):
            out["agency"] = data["unit"]
        if data.get("state"):
            out["status"] = data["state"]
        if data.get("overdue"):
            out["overdue_only"] = True
        return out


# --- actions on a report ---------------------------------------------------------------------


class _ForAgency(forms.Form):
    """The unit the official acts for (a supporting unit's own assignment); empty: the lead."""

    agency = forms.CharField(required=False, widget=forms.HiddenInput, max_length=32)

    def acting_agency(self) -> Agency | None:
        code = self.cleaned_data.get("agency") or ""
        return Agency.objects.filter(code=code).first() if code else None


class AcceptForm(_ForAgency):
    def arguments(self) -> dict[str, Any]:
        return {"agency": self.acting_agency()}


class TransferForm(forms.Form):
    agency = AgencyChoiceField(
        label=_("Unit to transfer the report to"),
        queryset=Agency.objects.none(),
        to_field_name="code",
        empty_label=_("— choose a unit —"),
    )
    reason = forms.CharField(
        label=_("Reason for the transfer"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The receiving unit and the resident read it."),
        error_messages={"required": _("Give the reason for the transfer.")},
    )

    def __init__(self, *args: Any, exclude: Iterable[int] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = _other_agencies(exclude)  # type: ignore[attr-defined]

    def arguments(self) -> dict[str, Any]:
        return {"agency": self.cleaned_data["agency"], "reason": self.cleaned_data["reason"]}


class SupportForm(forms.Form):
    agencies = AgencyMultipleChoiceField(
        label=_("Supporting units"),
        queryset=Agency.objects.none(),
        to_field_name="code",
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("Hold Ctrl (⌘ on a Mac) to choose several units."),
        error_messages={"required": _("Choose at least one unit.")},
    )
    note = forms.CharField(
        label=_("What you ask of them (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, exclude: Iterable[int] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agencies"].queryset = _other_agencies(exclude)  # type: ignore[attr-defined]

    def arguments(self) -> dict[str, Any]:
        return {"agencies": list(self.cleaned_data["agencies"]), "note": self.cleaned_data["note"]}


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Internal note"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only officials see internal notes; the resident does not."),
        error_messages={"required": _("Write the note.")},
    )

    def arguments(self) -> dict[str, Any]:
        return {"text": self.cleaned_data["text"]}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (the service checks their kind, size and number)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": PHOTO_ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class AnswerForm(_ForAgency):
    """The lead unit's answer to the resident, or a supporting unit's contribution."""

    template = forms.TypedChoiceField(
        label=_("Start from a response template (optional)"),
        required=False,
        coerce=int,
        empty_value=None,
    )
    resolution = forms.ChoiceField(
        label=_("Outcome"), choices=[("", _("— choose the outcome —")), *Report.Resolution.choices]
    )
    text = forms.CharField(
        label=_("Answer to the resident"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Published with the report. Leave empty to send the chosen template as is."),
    )
    evidence = MultipleFileField(
        label=_("Photos of the result"),
        required=False,
        help_text=_("Required when the outcome is “Fixed”. JPEG, PNG or WebP."),
    )

    def __init__(
        self,
        *args: Any,
        templates: Sequence[ResponseTemplate] = (),
        contribution: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.templates = {t.pk: t for t in templates}
        self.fields["template"].choices = [  # type: ignore[attr-defined]
            ("", _("— no template —")),
            *[(t.pk, t.title) for t in templates],
        ]
        self.contribution = contribution
        if contribution:
            del self.fields["resolution"]
            self.fields["text"].label = _("Your unit's contribution")
            self.fields["text"].help_text = _("Only the handling officials read it.")
            self.fields["evidence"].help_text = _("Optional. JPEG, PNG or WebP.")
        if not templates:
            del self.fields["template"]

    def template_text(self) -> str:
        template = self.templates.get(self.cleaned_data.get("template") or 0)
        return template.body if template else ""

    def arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "text": (data.get("text") or "").strip() or self.template_text(),
            # A contribution records no outcome of the report.
            "resolution": data.get("resolution") or Report.Resolution.ANSWERED,
            "evidence": list(data.get("evidence") or []),
            "agency": self.acting_agency(),
        }


# --- moderation ------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    """Hide, publish again, dismiss the flags, lift a ban."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the moderation history."),
        error_messages={"required": _("Give the reason.")},
    )

    def arguments(self) -> dict[str, Any]:
        return {"reason": self.cleaned_data["reason"]}


class RedactTextForm(ReasonForm):
    text = forms.CharField(
        label=_("Text of the report after redaction"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Remove the personal data or the abuse; the original stays in the history."),
        error_messages={"required": _("The report needs a text.")},
        strip=False,
    )
    field_order = ["text", "reason"]

    def arguments(self) -> dict[str, Any]:
        return {"text": self.cleaned_data["text"].strip(), "reason": self.cleaned_data["reason"]}


def _parse_boxes(raw: str) -> list[tuple[int, int, int, int]]:
    boxes: list[tuple[int, int, int, int]] = []
    for line in raw.replace(";", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        parts = [p for p in line.replace(" ", ",").split(",") if p]
        try:
            numbers = [round(float(p)) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 4 or numbers[2] <= 0 or numbers[3] <= 0 or min(numbers) < 0:
            raise forms.ValidationError(
                _("Each area is four numbers in pixels: x, y, width, height (e.g. 10,20,100,50)."),
                code="invalid",
            )
        boxes.append((numbers[0], numbers[1], numbers[2], numbers[3]))
    if not boxes:
        raise forms.ValidationError(_("Mark at least one area to black out."), code="required")
    return boxes


class RedactPhotoForm(ReasonForm):
    photo = forms.TypedChoiceField(label=_("Photo"), coerce=int)
    boxes = forms.CharField(
        label=_("Areas to black out"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_(
            "One area a line, in pixels of the photo: x, y, width, height (e.g. 10,20,100,50). "
            "You may also draw the areas on the photo."
        ),
        error_messages={"required": _("Mark at least one area to black out.")},
    )
    field_order = ["photo", "boxes", "reason"]

    def __init__(self, *args: Any, photos: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.photos = {m.pk: m for m in photos}
        self.fields["photo"].choices = [  # type: ignore[attr-defined]
            (m.pk, _("Photo {n} ({width}×{height} px)").format(n=i, width=m.width, height=m.height))
            for i, m in enumerate(photos, start=1)
        ]

    def clean_boxes(self) -> list[tuple[int, int, int, int]]:
        return _parse_boxes(self.cleaned_data["boxes"])

    def arguments(self) -> dict[str, Any]:
        return {
            "media": self.photos[self.cleaned_data["photo"]],
            "boxes": self.cleaned_data["boxes"],
            "reason": self.cleaned_data["reason"],
        }


class BanForm(ReasonForm):
    until = forms.DateField(
        label=_("Banned until (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        help_text=_("Leave empty to ban until the ban is lifted."),
    )

    def clean_until(self) -> datetime | None:
        day: date | None = self.cleaned_data.get("until")
        if day is None:
            return None
        if day <= timezone.localdate():
            raise forms.ValidationError(_("Choose a day after today."), code="past")
        # The ban ends at the start of the day after the chosen one, local time.
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))

    def arguments(self) -> dict[str, Any]:
        return {"reason": self.cleaned_data["reason"], "until": self.cleaned_data["until"]}


# --- statistics ------------------------------------------------------------------------------


class StatsForm(forms.Form):
    start = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
    )
    end = forms.DateField(
        label=_("To (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end is before the start."))
        return data

    def period(self) -> tuple[date, date]:
        """The chosen days; by default from the first of this month to today."""
        today = timezone.localdate()
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        end = data.get("end") or today
        start = data.get("start") or min(end, today).replace(day=1)
        return start, end


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in local time."""
    return (
        timezone.make_aware(datetime.combine(start, time.min)),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min)),
    )


# --- errors ----------------------------------------------------------------------------------

ALIASES = {
    "agencies": ("agencies", "agency"),
    "agency": ("agency", "agencies"),
    "evidence": ("evidence",),
    "text": ("text",),
    "description": ("text",),
    "boxes": ("boxes",),
    "media": ("photo", "boxes"),
    "until": ("until",),
}


def apply_domain_error(form: forms.Form, exc: ThudoError) -> None:
    """Put a domain error's messages on the form's fields (unknown ones on the form)."""
    data = exc.as_dict()
    placed = False
    for name, messages in data["fields"].items():
        candidates = ALIASES.get(name, (name,))
        target = next((c for c in candidates if c in form.fields), None)
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
            target = bound.id_for_label or (f"{bound.auto_id}_0" if bound.auto_id else "")
            for error in errors:
                out.append({"href": f"#{target}", "label": str(bound.label), "message": str(error)})
    return out
