"""Forms of the grant management page: grant access, revoke it. They parse; the rules (who may,
legal basis required, no duplicate valid grant) are thudo.exchange.services'."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Service, System


class _SystemChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.identifier} — {obj.name}"


class _ServiceChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.identifier} — {obj.name}"


class GrantForm(forms.Form):
    service = _ServiceChoice(label=_("Service"), queryset=Service.objects.none())
    client = _SystemChoice(label=_("Client system"), queryset=System.objects.none())
    legal_basis = forms.CharField(
        label=_("Legal basis"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The law, decree or decision that lets the client use this data."),
    )
    expires_on = forms.DateField(
        label=_("Valid until (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The access right ends at the end of this day. Empty: until revoked."),
    )

    def __init__(self, *args: Any, services: Any, clients: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services  # type: ignore[attr-defined]
        self.fields["client"].queryset = clients  # type: ignore[attr-defined]

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        end = datetime.combine(day + timedelta(days=1), time.min)
        return timezone.make_aware(end, timezone.get_current_timezone())


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for revoking"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
