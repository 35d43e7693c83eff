from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ProviderLoginForm(forms.Form):
    """The demo VNeID provider's sign-in: personal ID number and password."""

    personal_id = forms.CharField(
        label=_("Personal ID number"),
        max_length=20,
        help_text=_("The 12 digits on your chip ID card."),
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "inputmode": "numeric", "autofocus": True}
        ),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
