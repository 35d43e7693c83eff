"""The citizen's forms around a dossier. The procedure's own form is `procedures.forms.SpecForm`;
papers are plain file inputs described by `paper_inputs` (the services validate the files)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency
from thudo.core.errors import ThudoError
from thudo.procedures.specs import spec_label

from .models import Delivery

MIME_BY_TYPE = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
}


def paper_accept(file_types: Iterable[str]) -> str:
    """The `accept` attribute of a paper's file input: extensions and MIME types."""
    parts: list[str] = []
    for kind in file_types:
        kind = str(kind).lower().lstrip(".")
        parts.append(f".{kind}")
        mime = MIME_BY_TYPE.get(kind)
        if mime and mime not in parts:
            parts.append(mime)
    return ",".join(parts)


def paper_input_name(code: str) -> str:
    """The name of a paper's file input in the page form ("paper-<code>")."""
    return f"paper-{code}"


@dataclass
class PaperInput:
    """One paper's file input, rendered by templates/dossiers/partials/citizen_papers.html."""

    code: str
    label: str
    required: bool
    accept: str
    file_types: str
    max_mb: int | None
    errors: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def name(self) -> str:
        return paper_input_name(self.code)

    @property
    def id(self) -> str:
        return f"id_{self.name}"


def paper_inputs(spec: Mapping[str, Any], *, all_optional: bool = False) -> list[PaperInput]:
    """The file inputs for a procedure's papers (all optional in a supplement)."""
    return [
        PaperInput(
            code=p["code"],
            label=spec_label(p),
            required=bool(p.get("required")) and not all_optional,
            accept=paper_accept(p.get("file_types") or []),
            file_types=", ".join(str(t).upper() for t in p.get("file_types") or []),
            max_mb=p.get("max_mb"),
        )
        for p in spec.get("papers", [])
    ]


def paper_files(request_files: Any, papers: Iterable[PaperInput]) -> dict[str, list[Any]]:
    """The uploads of the page form, keyed by paper code (papers without a file left out)."""
    files: dict[str, list[Any]] = {}
    for paper in papers:
        uploads = [f for f in request_files.getlist(paper.name) if f]
        if uploads:
            files[paper.code] = uploads
    return files


def apply_errors(
    exc: ThudoError, *, forms_: Iterable[forms.Form], papers: Iterable[PaperInput] = ()
) -> list[str]:
    """Put a domain error's messages on the forms' fields and the papers ("paper:<code>").

    Fields that already carry an error from the form's own validation (the same rules) keep it.
    Returns the messages that belong to no field (shown in the error summary)."""
    by_code = {p.code: p for p in papers}
    forms_ = list(forms_)
    left: list[str] = []
    for name, messages in exc.as_dict()["fields"].items():
        if name.startswith("paper:") and name[6:] in by_code:
            by_code[name[6:]].errors.extend(messages)
            continue
        target = next((f for f in forms_ if name in f.fields), None)
        if target is None:
            left.extend(messages)
        elif not target.has_error(name):
            for message in messages:
                target.add_error(name, message)
    if not exc.as_dict()["fields"]:
        left.append(exc.as_dict()["message"])
    return left


def error_summary(
    forms_: Iterable[forms.Form], papers: Iterable[PaperInput] = (), extra: Iterable[str] = ()
) -> list[dict[str, str]]:
    """[{href, label, message}] for the error summary at the top of a page, in page order."""
    items: list[dict[str, str]] = []
    for form in forms_:
        if not form.is_bound:
            continue
        for message in form.non_field_errors():
            items.append({"href": "", "label": "", "message": str(message)})
        for name, errors in form.errors.items():
            if name == NON_FIELD_ERRORS:
                continue
            bound = form[name]
            for message in errors:
                # Radio groups have no single input: link to the first one.
                target = bound.id_for_label or (f"{bound.auto_id}_0" if bound.auto_id else "")
                href = f"#{target}" if target else ""
                items.append({"href": href, "label": str(bound.label), "message": str(message)})
    for paper in papers:
        for message in paper.errors:
            items.append({"href": f"#{paper.id}", "label": paper.label, "message": str(message)})
    for message in extra:
        items.append({"href": "", "label": "", "message": str(message)})
    return items


class ApplyForm(forms.Form):
    """What the citizen chooses around the procedure's form: where and how."""

    receiving_agency = forms.ModelChoiceField(
        label=_("Ward / commune that receives the dossier"),
        queryset=Agency.objects.none(),
        required=False,  # the applicant's own ward when left out
        empty_label=None,
        help_text=_("Decided by your place of residence, unless you choose another."),
    )
    delivery = forms.ChoiceField(
        label=_("How do you want to receive the result?"),
        choices=Delivery.choices,
        initial=Delivery.ONLINE,
        widget=forms.RadioSelect,
    )
    idempotency_key = forms.CharField(max_length=80, required=False, widget=forms.HiddenInput)
    draft = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, spec: Mapping[str, Any], user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if spec.get("agency_kind") == Agency.Kind.COMMUNE_COMMITTEE:
            wards = Agency.objects.filter(
                kind=Agency.Kind.COMMUNE_COMMITTEE, is_active=True
            ).order_by("name")
            field = self.fields["receiving_agency"]
            field.queryset = wards  # type: ignore[attr-defined]
            field.widget.attrs["autocomplete"] = "off"
            home = getattr(user, "home_unit_id", None)
            if home and not self.is_bound:
                own = wards.filter(admin_unit_id=home).first()
                if own is not None:
                    self.initial.setdefault("receiving_agency", own.pk)
        else:
            del self.fields["receiving_agency"]
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)


RATING_SCALE = [
    ("1", _("1 — Very poor")),
    ("2", _("2 — Poor")),
    ("3", _("3 — Acceptable")),
    ("4", _("4 — Good")),
    ("5", _("5 — Very good")),
]


def _rating_field(label: Any, help_text: Any) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        help_text=help_text,
        choices=RATING_SCALE,
        coerce=int,
        widget=forms.RadioSelect,
    )


class RatingForm(forms.Form):
    attitude = _rating_field(
        _("Officials' attitude"), _("Were the officials courteous and helpful?")
    )
    timeliness = _rating_field(_("Timeliness"), _("Was your dossier settled by the appointment?"))
    contacts = _rating_field(
        _("Number of contacts"),
        _("5 means you never had to come back or call; 1 means many times."),
    )
    clarity = _rating_field(
        _("Clarity of guidance"), _("Were the requirements and the steps clear?")
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SupplementForm(forms.Form):
    note = forms.CharField(
        label=_("Note to the agency (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class LookupForm(forms.Form):
    code = forms.CharField(
        label=_("Dossier code"),
        max_length=64,
        help_text=_("As printed on your receipt, e.g. HN-00070-260105-0001."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
    )
    personal_id = forms.CharField(
        label=_("Your personal ID number (optional)"),
        max_length=12,
        required=False,
        help_text=_("Enter it to see your name on the dossier; it proves the dossier is yours."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_code(self) -> str:
        return str(self.cleaned_data["code"]).strip().upper()

    def clean_personal_id(self) -> str:
        return str(self.cleaned_data.get("personal_id") or "").strip()
