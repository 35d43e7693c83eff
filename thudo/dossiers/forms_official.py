"""Forms of the officials' pages: the queue's filters, one form per workflow action, and the
counter intake (the applicant's details and the scanned papers; the procedure's own form is
`procedures.forms.SpecForm`).

The forms only parse what the official typed; every rule lives in the services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency
from thudo.procedures.models import Procedure

from .models import Delivery, Status

DUE_CHOICES = [
    ("", _("Any due date")),
    ("overdue", _("Overdue")),
    ("soon", _("Due soon")),
]


class QueueFilterForm(forms.Form):
    """The queue's filters, read from the query string."""

    q = forms.CharField(
        label=_("Code or applicant's name"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status"))] + [c for c in Status.choices if c[0] != Status.DRAFT],
    )
    procedure = forms.ModelChoiceField(
        label=_("Procedure"),
        required=False,
        queryset=Procedure.objects.order_by("code").only("pk", "code", "name", "name_en"),
        to_field_name="code",
        empty_label=_("Any procedure"),
    )
    due = forms.ChoiceField(label=_("Due date"), required=False, choices=DUE_CHOICES)

    def filters(self) -> dict[str, Any]:
        """The keyword arguments of `selectors.dossier_queue` (empty ones left out)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        out: dict[str, Any] = {}
        for name in ("status", "procedure", "due"):
            if data.get(name):
                out[name] = data[name]
        if data.get("q", "").strip():
            out["q"] = data["q"].strip()
        return out


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class _Note(forms.Form):
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class EmptyActionForm(forms.Form):
    """Actions that need nothing but the click: receive, start processing, sign, close."""

    def arguments(self) -> dict[str, Any]:
        return {}


class NoteActionForm(_Note):
    """Forward to the next step; approve."""

    def arguments(self) -> dict[str, Any]:
        return {"note": self.cleaned_data["note"]}


class ReasonsForm(forms.Form):
    """Refuse at reception (form 03) or reject after processing: the reasons, one per line."""

    reasons = forms.CharField(
        label=_("Reasons, one per line"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The applicant reads these reasons on the notice."),
        error_messages={"required": _("Give at least one reason.")},
    )

    def clean_reasons(self) -> list[str]:
        reasons = _lines(self.cleaned_data["reasons"])
        if not reasons:
            raise forms.ValidationError(_("Give at least one reason."), code="required")
        return reasons

    def arguments(self) -> dict[str, Any]:
        return {"reasons": self.cleaned_data["reasons"]}


class SupplementRequestForm(_Note):
    """Request a supplement (form 02): the missing papers of the procedure, other items, a note."""

    missing = forms.MultipleChoiceField(
        label=_("Missing or faulty papers"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    other = forms.CharField(
        label=_("Other items to supplement, one per line"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, papers: list[tuple[str, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.paper_names = dict(papers)
        self.fields["missing"].choices = list(papers)  # type: ignore[attr-defined]
        self.fields["note"].label = _("Note to the applicant (optional)")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("missing") and not _lines(data.get("other", "")):
            raise forms.ValidationError(
                _("Tick a paper or name at least one item to supplement."), code="required"
            )
        return data

    def arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        items = [{"name": self.paper_names[code], "note": ""} for code in data["missing"]]
        items += [{"name": line, "note": ""} for line in _lines(data["other"])]
        return {"missing": items, "note": data["note"]}


class HandOffForm(_Note):
    """Hand the dossier to another agency (inter-agency processing)."""

    to_agency = forms.ModelChoiceField(
        label=_("Agency to hand the dossier to"),
        queryset=Agency.objects.none(),
        to_field_name="code",
    )

    def __init__(self, *args: Any, exclude: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agencies = Agency.objects.filter(is_active=True).order_by("code")
        if exclude:
            agencies = agencies.exclude(pk=exclude)
        self.fields["to_agency"].queryset = agencies  # type: ignore[attr-defined]
        self.fields["to_agency"].label_from_instance = (  # type: ignore[attr-defined]
            lambda agency: f"{agency.code} — {agency.name}"
        )

    def arguments(self) -> dict[str, Any]:
        return {"to_agency": self.cleaned_data["to_agency"], "note": self.cleaned_data["note"]}


class ReturnResultForm(forms.Form):
    delivery = forms.ChoiceField(label=_("How the result is returned"), choices=Delivery.choices)

    def arguments(self) -> dict[str, Any]:
        return {"delivery": self.cleaned_data["delivery"]}


class ApologyForm(forms.Form):
    """Apologise for the delay (form 04) with a new appointment."""

    new_appointment = forms.DateTimeField(
        label=_("New appointment"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    reason = forms.CharField(
        label=_("Reason for the delay"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def arguments(self) -> dict[str, Any]:
        return {
            "new_appointment": self.cleaned_data["new_appointment"],
            "reason": self.cleaned_data["reason"],
        }


ACTION_FORMS: dict[str, type[forms.Form]] = {
    "receive": EmptyActionForm,
    "refuse": ReasonsForm,
    "request_supplement": SupplementRequestForm,
    "start_processing": EmptyActionForm,
    "forward": NoteActionForm,
    "hand_off": HandOffForm,
    "approve": NoteActionForm,
    "reject": ReasonsForm,
    "sign_result": EmptyActionForm,
    "return_result": ReturnResultForm,
    "apologise": ApologyForm,
    "close": EmptyActionForm,
}
"""The officials' actions and the form each one takes (the applicant's `submit` and `supplement`
are not here: officials never take them)."""


class ApplicantForm(forms.Form):
    """The walk-in applicant, as the receiving officer reads them from their ID card."""

    name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    personal_id = forms.CharField(
        label=_("Personal ID number"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("The 12 digits on the citizen identity card."),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    email = forms.EmailField(
        label=_("E-mail"), required=False, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    address = forms.CharField(
        label=_("Address"), max_length=300, required=False, widget=forms.TextInput()
    )
    delivery = forms.ChoiceField(
        label=_("How the result is returned"),
        choices=Delivery.choices,
        initial=Delivery.COUNTER,
    )

    def applicant(self) -> dict[str, str]:
        data = self.cleaned_data
        return {k: data[k] for k in ("name", "personal_id", "phone", "email", "address")}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files for one paper (e.g. both sides of a card)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def paper_field_name(code: str) -> str:
    return f"paper-{code}"


class PapersForm(forms.Form):
    """One file input per paper of the procedure. Whether a paper is required, its type and
    size are the service's to check (it reports every fault as "paper:<code>")."""

    def __init__(self, *args: Any, papers: list[dict[str, Any]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.codes: dict[str, str] = {}
        for paper in papers:
            name = paper_field_name(paper["code"])
            self.codes[name] = paper["code"]
            types = [t.strip().lower() for t in paper.get("file_types", []) if t.strip()]
            accept = ",".join(f".{t}" for t in types) or None
            attrs: dict[str, Any] = {"accept": accept} if accept else {}
            self.fields[name] = MultipleFileField(
                label=paper["label"],
                required=False,
                widget=MultipleFileInput(attrs=attrs),
                help_text=paper.get("help", ""),
            )
            self.fields[name].paper_required = bool(paper.get("required"))  # type: ignore[attr-defined]

    def files_by_code(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for name, code in self.codes.items():
            files = self.cleaned_data.get(name) or []
            if files:
                out[code] = list(files)
        return out
