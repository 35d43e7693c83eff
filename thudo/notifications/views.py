"""The signed-in user's notifications; the city's news and alerts (communications officers)."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.errors import PermissionDenied, ValidationFailed
from thudo.web.access import official_required

from .models import CityAlert
from .selectors import notifications_of
from .services import (
    ALERT_BODY_MAX,
    ALERT_TITLE_MAX,
    alert_send,
    alert_units,
    notification_mark_read,
)


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(notifications_of(request.user), 20).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page})


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    notification_mark_read(user=request.user)
    return redirect("notifications:inbox")


# --- City news and alerts (communications officers) ----------------------------------------

ALERTS_PAGE_SIZE = 25

DIVISION_GROUPS: dict[str, Any] = {
    "phường": _("Wards"),
    "xã": _("Communes"),
    "đặc khu": _("Special zones"),
}


def _sort_key(name: str) -> tuple[str, str]:
    """Vietnamese names in alphabetical order (accents after the plain letter, đ after d)."""
    plain = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))
    return plain.replace("đ", "d~").replace("Đ", "D~").casefold(), name


class AlertForm(forms.Form):
    """The alert as the officer types it; the service checks every rule again."""

    level = forms.ChoiceField(
        label=_("Kind"),
        choices=CityAlert.Level.choices,
        initial=CityAlert.Level.NEWS,
        widget=forms.RadioSelect,
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=ALERT_TITLE_MAX,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    body = forms.CharField(
        label=_("Text of the alert"),
        max_length=ALERT_BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Residents read it in the app and, when they have an address, by e-mail."),
    )
    all_units = forms.BooleanField(label=_("All wards and communes of the city"), required=False)
    units = forms.MultipleChoiceField(
        label=_("Wards and communes"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit_rows = sorted(
            alert_units().values_list("code", "name", "division_type"),
            key=lambda row: _sort_key(row[1]),
        )
        self.fields["units"].choices = [(code, name) for code, name, _kind in self.unit_rows]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("all_units") and not data.get("units"):
            self.add_error("units", _("Choose at least one ward or commune, or all of them."))
        return data

    def unit_codes(self) -> list[str]:
        if self.cleaned_data.get("all_units"):
            return [code for code, _name, _kind in self.unit_rows]
        return list(self.cleaned_data.get("units") or [])

    def groups(self) -> list[dict[str, Any]]:
        """The wards grouped by kind (wards, communes, special zones), each with its boxes."""
        chosen = set(self["units"].value() or [])
        groups: dict[str, dict[str, Any]] = {}
        for code, name, kind in self.unit_rows:
            key = kind.lower()
            group = groups.setdefault(
                key, {"key": key, "label": DIVISION_GROUPS.get(key, kind), "units": []}
            )
            group["units"].append({"code": code, "name": name, "checked": code in chosen})
        order = list(DIVISION_GROUPS)
        return sorted(
            groups.values(), key=lambda g: order.index(g["key"]) if g["key"] in order else 99
        )


def _require_alerts(request: HttpRequest) -> None:
    if not can(request.user, Perm.ALERT_SEND):
        raise DjangoPermissionDenied


@never_cache
@require_GET
@official_required
def alerts(request: HttpRequest) -> HttpResponse:
    """The alerts the city has sent, newest first."""
    _require_alerts(request)
    found = (
        CityAlert.objects.select_related("created_by")
        .annotate(unit_count=Count("units"))
        .order_by("-created_at", "-pk")
    )
    page = Paginator(found, ALERTS_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    names: dict[int, list[str]] = {}
    few = [a.pk for a in rows if a.unit_count <= 3]  # type: ignore[attr-defined]
    for alert_id, name in CityAlert.units.through.objects.filter(cityalert_id__in=few).values_list(
        "cityalert_id", "adminunit__name"
    ):
        names.setdefault(alert_id, []).append(name)
    context = {
        "page": page,
        "rows": [(a, sorted(names.get(a.pk, []))) for a in rows],
        "all_count": alert_units().count(),
    }
    return render(request, "notifications/alerts.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@official_required
def alert_new(request: HttpRequest) -> HttpResponse:
    """Write news or an urgent alert and send it to the residents of the chosen wards."""
    _require_alerts(request)
    form = AlertForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                alert = alert_send(
                    sender=request.user,
                    level=data["level"],
                    title=data["title"],
                    body=data["body"],
                    unit_codes=form.unit_codes(),
                )
            except PermissionDenied:
                raise DjangoPermissionDenied from None
            except ValidationFailed as exc:
                _alert_errors(form, exc)
            else:
                messages.success(
                    request,
                    ngettext(
                        "The alert was sent to %(n)d resident.",
                        "The alert was sent to %(n)d residents.",
                        alert.recipients,
                    )
                    % {"n": alert.recipients},
                )
                return redirect("notifications:alerts")
        status = 422
    return render(request, "notifications/alert_form.html", {"form": form}, status=status)


def _alert_errors(form: AlertForm, exc: ValidationFailed) -> None:
    """The service's field errors on the form's fields (`unit_codes` is the `units` boxes)."""
    placed = False
    for name, values in exc.as_dict()["fields"].items():
        field = "units" if name == "unit_codes" else name
        for message in values:
            form.add_error(field if field in form.fields else None, message)
            placed = True
    if not placed:
        form.add_error(None, str(exc.message))
