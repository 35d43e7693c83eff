from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ThudoError


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username or personal ID"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class OtpForm(forms.Form):
    otp_token = forms.CharField(
        label=_("6-digit code from your authenticator app"),
        max_length=8,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "pattern": "[0-9 ]*",
            }
        ),
    )


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)


def apply_error(form: forms.Form, exc: ThudoError) -> None:
    """Put a domain error's field messages on the form (unknown fields become form errors)."""
    data = exc.as_dict()
    placed = False
    for name, messages in data["fields"].items():
        for message in messages:
            if name in form.fields:
                form.add_error(name, message)
                placed = True
    if not placed:
        form.add_error(None, data["message"])
