"""A page form built from a procedure spec; `form_validate` is its only judge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed

from .specs import DEFAULT_MAX_LENGTH, choice_label, form_validate, spec_label

# Autocomplete hints by field name, for the applicant's own details (WCAG 1.3.5).
AUTOCOMPLETE_BY_NAME = {
    "applicant_name": "name",
    "full_name": "name",
    "address": "street-address",
    "applicant_address": "street-address",
    "phone": "tel",
    "applicant_phone": "tel",
    "email": "email",
    "applicant_email": "email",
}


class SpecForm(forms.Form):
    """Fields, labels (active language), help texts and input types from `spec["fields"]`.

    The Django fields only carry and render the values; `clean()` hands them to `form_validate`
    so the page, the API and the services judge a form by one set of rules. `cleaned_data` is
    form_validate's JSON-safe result."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        data: Any = None,
        initial: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data=data, initial=dict(initial) if initial else None, **kwargs)
        self.spec = spec
        for field in spec.get("fields", []):
            self.fields[field["name"]] = _form_field(field)

    def clean(self) -> dict[str, Any]:
        raw = {name: self.cleaned_data.get(name) for name in self.fields}
        try:
            self.cleaned_data = form_validate(self.spec, raw)
        except ValidationFailed as exc:
            for name, message in exc.fields.items():
                self.add_error(name if name in self.fields else None, str(message))
        return self.cleaned_data


def _form_field(field: Mapping[str, Any]) -> forms.Field:
    kind = field["type"]
    required = bool(field.get("required"))
    attrs: dict[str, Any] = {}
    if required:
        attrs["required"] = True  # shown to the browser and assistive technology
        attrs["aria-required"] = "true"
    if auto := AUTOCOMPLETE_BY_NAME.get(field["name"]):
        attrs["autocomplete"] = auto
    common: dict[str, Any] = {
        "label": spec_label(field, key="label"),
        "help_text": spec_label(field, key="help_text"),
        "required": False,  # form_validate decides
    }
    widget: forms.Widget
    if kind == "boolean":
        attrs.pop("aria-required", None)
        return forms.BooleanField(widget=forms.CheckboxInput(attrs=attrs), **common)
    if kind == "choice":
        choices = [("", _("— choose —"))] + [
            (str(c[0]), choice_label(c)) for c in field.get("choices") or []
        ]
        # A CharField under a Select: an unknown value reaches form_validate's own message.
        return forms.CharField(widget=forms.Select(attrs=attrs, choices=choices), **common)
    if kind == "textarea":
        attrs["maxlength"] = field.get("max_length") or DEFAULT_MAX_LENGTH["textarea"]
        widget = forms.Textarea(attrs={"rows": 4, **attrs})
    elif kind == "integer":
        attrs["inputmode"] = "numeric"
        if field.get("min_value") is not None:
            attrs["min"] = field["min_value"]
        if field.get("max_value") is not None:
            attrs["max"] = field["max_value"]
        widget = forms.NumberInput(attrs=attrs)
    elif kind == "date":
        widget = forms.DateInput(attrs=attrs, format="%Y-%m-%d")
        widget.input_type = "date"
    elif kind == "personal_id":
        attrs.update(
            {"inputmode": "numeric", "pattern": "[0-9]{12}", "maxlength": 12, "autocomplete": "off"}
        )
        widget = forms.TextInput(attrs=attrs)
    elif kind == "phone":
        attrs.setdefault("autocomplete", "tel")
        attrs["inputmode"] = "tel"
        widget = forms.TextInput(attrs=attrs)
        widget.input_type = "tel"
    elif kind == "email":
        attrs.setdefault("autocomplete", "email")
        widget = forms.EmailInput(attrs=attrs)
    else:
        attrs["maxlength"] = field.get("max_length") or DEFAULT_MAX_LENGTH["text"]
        widget = forms.TextInput(attrs=attrs)
    return forms.CharField(widget=widget, strip=True, **common)
