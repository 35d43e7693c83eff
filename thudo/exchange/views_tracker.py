"""The citizen's data tracker (/my-data/): every exchange that touched their data, with the
log's proof; the notification subscription; an objection per access. And the data stewards'
pages: the objections to their agency, and the answer.

Thin views: parse, call one service or selector of `tracker`, render. A citizen reaches only
their own accesses (anyone else's is a 404); an official reaches only the objections of the
agencies where they hold Perm.EXCHANGE_MANAGE.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from thudo.web.access import official_required

from . import tracker
from .models import Objection

PAGE_SIZE = 25


# --- forms ----------------------------------------------------------------------------------


class AccessFilterForm(forms.Form):
    member = forms.ChoiceField(label=gettext_lazy("Agency"), required=False)
    service = forms.ChoiceField(label=gettext_lazy("Service"), required=False)
    start = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, members: Any = (), services: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [("", gettext_lazy("All agencies")), *members]  # type: ignore[attr-defined]
        self.fields["service"].choices = [("", gettext_lazy("All services")), *services]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", gettext_lazy("The end date is before the start date."))
        return data


class ObjectionForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("What do you object to?"),
        help_text=gettext_lazy(
            "Say why you think this use of your data was wrong. The agency that made it answers "
            "you here and by notification. At most 2,000 characters."
        ),
        max_length=tracker.OBJECTION_MAX,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": tracker.OBJECTION_MAX}),
    )


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=gettext_lazy("Answer to the citizen"),
        help_text=gettext_lazy(
            "The citizen receives it as a notification. At most 5,000 characters."
        ),
        max_length=tracker.ANSWER_MAX,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": tracker.ANSWER_MAX}),
    )


class ObjectionFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("All")), *Objection.Status.choices],
    )


def _apply_error(form: forms.Form, exc: ValidationFailed) -> None:
    for name, message in exc.fields.items():
        target = name if name in form.fields else None
        for m in message if isinstance(message, list) else [message]:
            form.add_error(target, str(m))
    if not exc.fields:
        form.add_error(None, str(exc.message))


def _error_summary(form: forms.Form) -> list[dict[str, str]]:
    items = []
    if form.is_bound:
        for message in form.non_field_errors():
            items.append({"href": "", "label": "", "message": str(message)})
        for name, errors in form.errors.items():
            if name == "__all__":
                continue
            bound = form[name]
            for message in errors:
                items.append(
                    {
                        "href": f"#{bound.id_for_label}",
                        "label": str(bound.label),
                        "message": str(message),
                    }
                )
    return items


def _query(request: HttpRequest, **changes: Any) -> str:
    params = {k: v for k, v in request.GET.items() if v}
    params.update({k: v for k, v in changes.items() if v})
    for k, v in changes.items():
        if not v:
            params.pop(k, None)
    return f"?{urlencode(params)}" if params else "?"


# --- the citizen ----------------------------------------------------------------------------


@never_cache
@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Every exchange that touched the citizen's data, newest first, filtered and paged."""
    user = request.user
    has_pid = bool(getattr(user, "personal_id", ""))
    members, services = tracker.access_filter_choices(user) if has_pid else ([], [])
    form = AccessFilterForm(request.GET or None, members=members, services=services)
    filters: dict[str, Any] = {}
    status = 200
    if form.is_bound:
        if form.is_valid():
            filters = {k: v for k, v in form.cleaned_data.items() if v}
        else:
            status = 400
    page = Paginator(tracker.accesses_for(user, **filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = tracker.access_rows(user, page.object_list)
    context = {
        "has_personal_id": has_pid,
        "form": form,
        "errors": _error_summary(form),
        "page": page,
        "rows": rows,
        "prev_url": _query(request, page=page.previous_page_number())
        if page.has_previous()
        else "",
        "next_url": _query(request, page=page.next_page_number()) if page.has_next() else "",
        "subscribed": tracker.is_subscribed(user) if has_pid else False,
        "objections": list(tracker.objections_of(user)[:20]) if has_pid else [],
        "filtered": bool(filters),
    }
    return render(request, "exchange/tracker.html", context, status=status)


@login_required
@require_POST
def subscription(request: HttpRequest) -> HttpResponse:
    """Subscribe to (or stop) a notification on each access to the citizen's data."""
    subscribe = request.POST.get("action") == "subscribe"
    try:
        tracker.subscription_set(user=request.user, subscribed=subscribe)
    except ValidationFailed as exc:
        messages.error(request, str(exc.message))
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    else:
        if subscribe:
            messages.success(request, _("You will be notified each time your data is used."))
        else:
            messages.success(request, _("You will no longer be notified."))
    return redirect("exchange_tracker:index")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def objection_new(request: HttpRequest, pk: int) -> HttpResponse:
    """The objection form for one of the citizen's accesses."""
    try:
        message = tracker.access_get(request.user, pk)
    except NotFound:
        raise Http404 from None
    row = tracker.access_rows(request.user, [message])[0]
    form = ObjectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                objection = tracker.objection_file(
                    user=request.user, message=message, text=form.cleaned_data["text"]
                )
            except ValidationFailed as exc:
                _apply_error(form, exc)
            except NotFound:
                raise Http404 from None
            else:
                messages.success(
                    request,
                    _("Your objection was sent to %(agency)s. You will be notified of the answer.")
                    % {"agency": tracker.local_name(objection.agency)},
                )
                return redirect("exchange_tracker:index")
        status = 400
    context = {"row": row, "form": form, "errors": _error_summary(form)}
    return render(request, "exchange/objection_form.html", context, status=status)


# --- the data stewards ----------------------------------------------------------------------


def _require_manager(request: HttpRequest) -> None:
    if not can(request.user, Perm.EXCHANGE_MANAGE):
        raise DjangoPermissionDenied


@never_cache
@require_GET
@official_required
def objections(request: HttpRequest) -> HttpResponse:
    """The objections to the agencies where the official manages data exchange."""
    _require_manager(request)
    form = ObjectionFilterForm(request.GET or None)
    status_filter = ""
    if form.is_bound and form.is_valid():
        status_filter = form.cleaned_data.get("status") or ""
    qs = tracker.objections_for_official(request.user, status=status_filter)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    rows = tracker.access_rows_for_official(items)
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "prev_url": _query(request, page=page.previous_page_number())
        if page.has_previous()
        else "",
        "next_url": _query(request, page=page.next_page_number()) if page.has_next() else "",
    }
    return render(request, "exchange/objection_list.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@official_required
def objection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One objection, the access it is about, and the answer form while it is open."""
    _require_manager(request)
    try:
        objection = tracker.objection_get_for_official(request.user, pk)
    except NotFound:
        raise Http404 from None
    form = AnswerForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                tracker.objection_answer(
                    objection=objection, actor=request.user, answer=form.cleaned_data["answer"]
                )
            except ValidationFailed as exc:
                _apply_error(form, exc)
            except InvalidTransition as exc:
                messages.error(request, str(exc.message))
                return redirect("exchange_tracker:objection", pk=objection.pk)
            except PermissionDenied:
                raise DjangoPermissionDenied from None
            else:
                messages.success(request, _("Your answer was sent to the citizen."))
                return redirect("exchange_tracker:objection", pk=objection.pk)
        status = 400
    row = tracker.access_rows_for_official([objection])[0]
    context = {"row": row, "objection": objection, "form": form, "errors": _error_summary(form)}
    return render(request, "exchange/objection_detail.html", context, status=status)
