"""The residents' forms around a report. The services judge every value again; these forms only
carry the values, render accessible fields and give the first, field-by-field messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ThudoError
from thudo.core.models import AdminUnit

from .models import DESCRIPTION_MAX, Category, Flag, ReportStatus

# The file input's `accept`: what the services take (the bytes are sniffed again there).
MEDIA_ACCEPT = (
    "image/jpeg,image/png,image/webp,video/mp4,video/webm,.jpg,.jpeg,.png,.webp,.mp4,.webm"
)
PHOTO_ACCEPT = "image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp"

# A domain error on one of these names belongs to this form field.
FIELD_ALIASES = {
    "position": "latitude",
    "unit": "unit_code",
    "urgency": "urgent",
}


def english() -> bool:
    return (get_language() or "vi").startswith("en")


def local_text(item: Mapping[str, Any] | Any, key: str) -> str:
    """The item's `key` in the active language (`key_en` in English), Vietnamese as fallback."""
    if isinstance(item, Mapping):
        vi = str(item.get(key) or "")
        en = str(item.get(f"{key}_en") or "")
    else:
        vi = str(getattr(item, key, "") or "")
        en = str(getattr(item, f"{key}_en", "") or "")
    return (en or vi) if english() else vi


def category_name(category: Category) -> str:
    return local_text(category, "name")


# The timeline's wording of each event the services record.
EVENT_LABELS = {
    "submit": _("Report sent"),
    "edit": _("Report corrected by the reporter"),
    "withdraw": _("Withdrawn by the reporter"),
    "accept": _("Accepted for handling"),
    "support_accept": _("A supporting unit took part"),
    "transfer": _("Transferred to another unit"),
    "add_support": _("Supporting units asked to help"),
    "note": _("Internal note"),
    "answer": _("Answered"),
    "contribution": _("A supporting unit contributed"),
    "rate": _("Rated by the reporter"),
    "reopen": _("Reopened by the reporter: sent to the next level"),
    "flagged": _("Hidden pending review after flags"),
    "personal_data_removed": _("The reporter's personal data was removed"),
    "breach": _("Deadline missed: the unit's leaders were told"),
    "close": _("Closed"),
    "hide": _("Hidden by a moderator"),
    "show": _("Published again by a moderator"),
    "dismiss_flags": _("Flags dismissed by a moderator"),
    "redact_text": _("Text redacted by a moderator"),
    "redact_photo": _("Photo redacted by a moderator"),
}


def event_label(action: str, to_status: str = "") -> str:
    """A timeline event's wording in the active language."""
    if action in EVENT_LABELS:
        return str(EVENT_LABELS[action])
    if to_status in ReportStatus.values:
        return str(ReportStatus(to_status).label)
    return action.replace("_", " ").capitalize()


def city_code() -> str:
    return f"{int(settings.THUDO_CITY['PROVINCE_CODE']):02d}"


def ward_choices() -> list[tuple[str, str]]:
    """The city's wards and communes, by name, as (code, name)."""
    units = (
        AdminUnit.objects.filter(level=AdminUnit.Level.COMMUNE, parent__code=city_code())
        .order_by("name")
        .values_list("code", "name")
    )
    return list(units)


def _local_number(value: Any) -> Any:
    """Latitude/longitude as typed: a decimal comma is taken as a point."""
    if isinstance(value, str):
        return value.strip().replace(",", ".")
    return value


class PositionField(forms.FloatField):
    def to_python(self, value: Any) -> Any:
        return super().to_python(_local_number(value))


def _position_widget(label_id: str) -> forms.NumberInput:
    return forms.NumberInput(
        attrs={
            "step": "any",
            "inputmode": "decimal",
            "autocomplete": "off",
            "data-position": label_id,
        }
    )


class ReportForm(forms.Form):
    """Step 2 of reporting: what, where, and how it is shown."""

    category = forms.CharField(widget=forms.HiddenInput)
    description = forms.CharField(
        label=_("What is the problem?"),
        help_text=_(
            "Describe what you see and where exactly, e.g. the house number or a landmark. "
            "At most 4000 characters."
        ),
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(
            attrs={"rows": 6, "maxlength": DESCRIPTION_MAX, "data-counter": "description"}
        ),
    )
    latitude = PositionField(
        label=_("Latitude"),
        required=False,
        help_text=_(
            "Decimal degrees, e.g. 21.0285. Filled in when you choose the place on the map."
        ),
        widget=_position_widget("latitude"),
    )
    longitude = PositionField(
        label=_("Longitude"),
        required=False,
        help_text=_("Decimal degrees, e.g. 105.8542."),
        widget=_position_widget("longitude"),
    )
    address = forms.CharField(
        label=_("Address or landmark (optional)"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    unit_code = forms.ChoiceField(
        label=_("Ward / commune"),
        required=False,
        help_text=_(
            "We could not tell the ward for certain from the position, so the nearest one is "
            "chosen. Change it if it is wrong."
        ),
    )
    urgent = forms.BooleanField(
        label=_("This is urgent (danger to people)"),
        required=False,
        help_text=_("Urgent reports must be handled within 4 working hours."),
    )
    show_name = forms.BooleanField(
        label=_("Show my name with the report"),
        required=False,
        help_text=_("Otherwise the public sees “A resident”. The handling unit always sees it."),
    )
    confirm_new = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["unit_code"]
        field.choices = [("", _("— find it from the position —")), *ward_choices()]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        lat, lng = cleaned.get("latitude"), cleaned.get("longitude")
        if (lat is None) != (lng is None) and not self.has_error("latitude"):
            self.add_error("latitude", _("Enter both the latitude and the longitude."))
        return cleaned


def _question_field(question: Mapping[str, Any]) -> forms.Field:
    kind = str(question.get("datatype") or "string")
    required = bool(question.get("required"))
    attrs: dict[str, Any] = {"aria-required": "true"} if required else {}
    common: dict[str, Any] = {
        "label": local_text(question, "label") or str(question.get("code", "")),
        "required": required,
        "help_text": local_text(question, "description"),
    }
    values = [
        (str(v.get("key")), local_text(v, "name") or str(v.get("key")))
        for v in question.get("values") or []
        if isinstance(v, Mapping)
    ]
    if kind == "text":
        return forms.CharField(
            max_length=DESCRIPTION_MAX,
            widget=forms.Textarea(attrs={"rows": 3, "maxlength": DESCRIPTION_MAX, **attrs}),
            **common,
        )
    if kind == "number":
        return PositionField(
            widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", **attrs}),
            **common,
        )
    if kind == "datetime":
        widget = forms.DateTimeInput(attrs=attrs, format="%Y-%m-%dT%H:%M")
        widget.input_type = "datetime-local"
        return forms.DateTimeField(
            widget=widget,
            input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
            **common,
        )
    if kind == "singlevaluelist":
        if len(values) > 6:
            return forms.ChoiceField(
                choices=[("", _("— choose —")), *values],
                widget=forms.Select(attrs=attrs),
                **common,
            )
        return forms.ChoiceField(choices=values, widget=forms.RadioSelect, **common)
    if kind == "multivaluelist":
        return forms.MultipleChoiceField(
            choices=values, widget=forms.CheckboxSelectMultiple, **common
        )
    return forms.CharField(
        max_length=500, widget=forms.TextInput(attrs={"maxlength": 500, **attrs}), **common
    )


def question_name(code: str) -> str:
    return f"q_{code}"


class QuestionsForm(forms.Form):
    """The category's extra questions (`Category.questions`), as fields named q_<code>."""

    def __init__(self, *args: Any, category: Category, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        questions = [q for q in (category.questions or []) if isinstance(q, Mapping)]
        questions.sort(key=lambda q: int(q.get("order") or 0))
        self.codes: dict[str, str] = {}
        for question in questions:
            code = str(question.get("code") or "")
            if not code:
                continue
            self.fields[question_name(code)] = _question_field(question)
            self.codes[question_name(code)] = code

    def attributes(self) -> dict[str, Any]:
        """The answers, JSON-safe, keyed by question code (empty answers left out)."""
        answers: dict[str, Any] = {}
        for name, code in self.codes.items():
            value = self.cleaned_data.get(name)
            if value in (None, "", []):
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            answers[code] = value
        return answers


class EditForm(forms.Form):
    """The reporter corrects the report before it is accepted."""

    description = ReportForm.base_fields["description"]
    latitude = ReportForm.base_fields["latitude"]
    longitude = ReportForm.base_fields["longitude"]
    address = ReportForm.base_fields["address"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        lat, lng = cleaned.get("latitude"), cleaned.get("longitude")
        if (lat is None or lng is None) and not self.has_error("latitude"):
            self.add_error("latitude", _("Choose the place on the map or enter its position."))
        return cleaned


RATING_SCALE = [
    ("5", _("5 — Very good")),
    ("4", _("4 — Good")),
    ("3", _("3 — Acceptable")),
    ("2", _("2 — Poor")),
    ("1", _("1 — Very poor")),
]


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How good is the answer?"),
        choices=RATING_SCALE,
        coerce=int,
        widget=forms.RadioSelect,
    )
    satisfied = forms.TypedChoiceField(
        label=_("Is the problem solved for you?"),
        choices=[
            ("", _("Decide from my rating (3 or more: yes)")),
            ("yes", _("Yes, I am satisfied")),
            ("no", _("No, I am not satisfied")),
        ],
        coerce=lambda v: {"yes": True, "no": False}.get(v),
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        initial="",
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the problem not solved?"),
        help_text=_("The report goes to the next level up. You can reopen it only once."),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
    )


class FlagForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("What is wrong with this report?"),
        choices=[("", _("— choose —")), *Flag.Reason.choices],
    )
    comment = forms.CharField(
        label=_("Details (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 500}),
    )


class ForgetForm(forms.Form):
    confirm = forms.BooleanField(
        label=_(
            "I understand that my name and contact details are removed from this report for "
            "good, and that I no longer receive its news."
        ),
        error_messages={"required": _("Tick this box to remove your personal data.")},
    )


class MapFilterForm(forms.Form):
    """The public map's and list's filters (GET)."""

    category = forms.ChoiceField(label=_("Category"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All statuses"))]
        + [(c, label) for c, label in ReportStatus.choices if c != ReportStatus.WITHDRAWN],
    )
    ward = forms.ChoiceField(label=_("Ward / commune"), required=False)

    def __init__(self, *args: Any, categories: Iterable[Category] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [  # type: ignore[attr-defined]
            ("", _("All categories")),
            *((c.code, category_name(c)) for c in categories),
        ]
        self.fields["ward"].choices = [  # type: ignore[attr-defined]
            ("", _("All wards and communes")),
            *ward_choices(),
        ]

    def values(self) -> dict[str, str]:
        """The valid filters ("" for none); an unknown value filters nothing."""
        if not self.is_bound:
            return {name: "" for name in self.fields}
        self.is_valid()
        return {
            name: str(self.cleaned_data.get(name) or "") if name not in self.errors else ""
            for name in self.fields
        }


# --- errors ----------------------------------------------------------------------------------


def domain_errors(
    exc: ThudoError, *, forms_: Iterable[forms.Form], media: list[str] | None = None
) -> list[str]:
    """Put a domain error's messages on the forms' fields (with FIELD_ALIASES and the
    questions' `q_<code>` names) and the files' messages ("media…", "evidence…") on `media`.
    Returns the messages that belong to no field."""
    forms_ = list(forms_)
    left: list[str] = []
    fields = exc.as_dict()["fields"]
    for name, messages in fields.items():
        if media is not None and name.startswith(("media", "photo", "video", "file")):
            media.extend(m for m in messages if m not in media)
            continue
        target_name = _field_name(name, forms_)
        target = next((f for f in forms_ if target_name and target_name in f.fields), None)
        if target is None:
            left.extend(messages)
            continue
        for message in messages:
            if message not in target.errors.get(target_name, []):
                target.add_error(target_name, message)
    if not fields:
        left.append(exc.as_dict()["message"])
    return left


def _field_name(name: str, forms_: list[forms.Form]) -> str:
    for form in forms_:
        if name in form.fields:
            return name
    for prefix in ("attributes.", "attribute.", "attributes:", "attribute:"):
        if name.startswith(prefix):
            return question_name(name[len(prefix) :])
    for prefix in ("attribute[", "attributes["):
        if name.startswith(prefix) and name.endswith("]"):
            return question_name(name[len(prefix) : -1])
    if any(question_name(name) in f.fields for f in forms_):
        return question_name(name)
    return FIELD_ALIASES.get(name.split(".")[0].split(":")[0], "")


def error_summary(
    forms_: Iterable[forms.Form], extra: Iterable[dict[str, str] | str] = ()
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
            target = bound.id_for_label or (f"{bound.auto_id}_0" if bound.auto_id else "")
            for message in errors:
                items.append(
                    {
                        "href": f"#{target}" if target else "",
                        "label": str(bound.label or ""),
                        "message": str(message),
                    }
                )
    for item in extra:
        if isinstance(item, str):
            items.append({"href": "", "label": "", "message": item})
        else:
            items.append(item)
    return items
