"""The citizen's pages: apply for a procedure, my dossiers, a dossier, its receipt and result,
the supplement and the rating; and the public look-up by dossier code. Every write goes through
`services`, every read through `selectors`; the officials' pages are in `views_official.py`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from thudo.core.errors import NotFound, PermissionDenied, ThudoError, ValidationFailed
from thudo.documents import selectors as document_selectors
from thudo.documents.models import Document
from thudo.procedures.forms import SpecForm
from thudo.procedures.selectors import procedure_current_version, procedure_get
from thudo.procedures.specs import spec_label

from . import once_only, selectors, services
from .forms import (
    ApplyForm,
    LookupForm,
    PaperInput,
    RatingForm,
    SupplementForm,
    apply_errors,
    error_summary,
    paper_files,
    paper_inputs,
)
from .models import OPEN_STATUSES, Dossier, Status

PAGE_SIZE = 20
RESULT_READY = (Status.SIGNED, Status.RETURNED, Status.CLOSED)
RATEABLE = (Status.RETURNED, Status.CLOSED)


# --- helpers -------------------------------------------------------------------------------


def _require_citizen(user: Any) -> None:
    """Only citizens and businesses file dossiers in their own name (officials use the
    counter)."""
    if getattr(user, "kind", "") != "citizen":
        raise DjangoPermissionDenied


def _dossier(request: HttpRequest, public_id: UUID) -> Dossier:
    try:
        return selectors.dossier_for(request.user, public_id=public_id)
    except NotFound:
        raise Http404 from None


def _local(moment: Any) -> str:
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT") if moment else ""


def status_badge(dossier: Dossier, now: Any = None) -> str:
    """The CSS modifier of a dossier's status badge (late, paused, settled or plain)."""
    now = now or timezone.now()
    if dossier.status == Status.SUPPLEMENT_REQUESTED:
        return "badge-paused"
    if dossier.status in OPEN_STATUSES and dossier.due_at and dossier.due_at < now:
        return "badge-late"
    if dossier.status in (Status.SIGNED, Status.RETURNED, Status.CLOSED):
        return "badge-ok"
    return ""


def _pdf(document: Document, user: Any, filename: str) -> FileResponse:
    try:
        document = document_selectors.document_get(user=user, public_id=document.public_id)
        version = document_selectors.latest_version(document)
    except NotFound:
        raise Http404 from None
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    return FileResponse(
        version.file.open("rb"),
        content_type="application/pdf",
        as_attachment=False,
        filename=f"{filename}.pdf",
    )


def _procedure_summary(procedure: Any, spec: dict[str, Any]) -> dict[str, Any]:
    english = (get_language() or "vi").startswith("en")
    description = (procedure.description_en if english else "") or procedure.description
    return {
        "code": spec.get("code", procedure.code),
        "name": spec_label(spec),
        "sector": spec_label(spec["sector"]) if spec.get("sector") else "",
        "description": description,
        "deadline_days": spec.get("deadline_days"),
        "fee": spec.get("fee") or 0,
        "fee_waived_online": spec.get("fee_waived_online"),
        "online_level": spec.get("online_level"),
        "cutoff": spec.get("cutoff"),
        "result": spec_label(spec["result"]) if spec.get("result") else "",
    }


# --- apply ---------------------------------------------------------------------------------


def _form_values(form: SpecForm) -> dict[str, Any]:
    """The procedure form's raw values as posted (checkboxes as booleans)."""
    return {name: form[name].data for name in form.fields}


def _draft_of(request: HttpRequest, procedure: Any, public_id: Any) -> Dossier | None:
    """The applicant's own dossier of this procedure named by `draft` (404 otherwise). It may
    no longer be a draft: a resubmitted page then gets its dossier back (idempotency key), and
    anything else is refused by the services."""
    if not public_id:
        return None
    try:
        draft = selectors.dossier_for(request.user, public_id=UUID(str(public_id)))
    except (NotFound, ValueError):
        raise Http404 from None
    if draft.procedure_id != procedure.pk or draft.applicant_id != request.user.pk:
        raise Http404
    return draft


def _submitted_message(dossier: Dossier) -> str:
    if dossier.appointment_at:
        return _(
            "Your dossier %(code)s has been submitted. Appointment for the result: %(appointment)s."
        ) % {"code": dossier.code, "appointment": _local(dossier.appointment_at)}
    return _("Your dossier %(code)s has been submitted.") % {"code": dossier.code}


def _eid_level_check(request: HttpRequest, level: int) -> HttpResponse | None:
    """A redirect to the e-ID sign-in when the procedure demands a higher level (None: OK)."""
    if level <= 0:
        return None
    try:
        from thudo.eid.session import require_level
    except ImportError:  # the e-ID app is not installed: no sign-in reaches any level
        raise DjangoPermissionDenied from None
    return require_level(request, level)


def _mark_unverified(form: SpecForm, prefill: once_only.Prefill | None) -> None:
    """Sourced fields the registry did not fill: typed by the citizen, said to be unverified."""
    note = _("Not verified: type it yourself; the agency will check it.")
    for name in once_only.unverified_names(prefill):
        if name in form.fields:
            field = form.fields[name]
            field.help_text = f"{note} {field.help_text}".strip()


@login_required
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest, code: str) -> HttpResponse:
    """The procedure's form and papers; "Save draft" keeps the form, "Submit" files it.

    Every error (form fields, papers, the receiving ward) is shown at once, field by field,
    with status 400; nothing is saved then.

    Once-only: the fields the procedure takes from a registry are fetched through the exchange
    when the page opens (`once_only`), shown verified and read-only, and submitted as fetched
    (kept in the session), whatever the page posts. A procedure that demands an e-ID level
    sends a citizen signed in below it to the e-ID sign-in first."""
    _require_citizen(request.user)
    try:
        procedure = procedure_get(code=code)
    except NotFound:
        raise Http404 from None
    if not procedure.is_active:
        raise Http404
    spec = procedure_current_version(procedure).spec
    level = int(spec.get("eid_level_required", procedure.eid_level_required) or 0)
    if (response := _eid_level_check(request, level)) is not None:
        return response
    papers = paper_inputs(spec)
    draft = _draft_of(request, procedure, request.POST.get("draft") or request.GET.get("draft"))
    if request.method == "GET" and draft is not None and draft.status != Status.DRAFT:
        return redirect("dossiers:detail", public_id=draft.public_id)  # submitted meanwhile
    prefill = once_only.prefill_get(
        request.session, spec=spec, user=request.user, retry=request.method == "GET"
    )
    form_spec = once_only.editable_spec(spec, prefill)
    verified = prefill.verified if prefill is not None else {}
    extra: list[str] = []
    status = 200

    if request.method == "POST":
        form = SpecForm(form_spec, data=request.POST)
        _mark_unverified(form, prefill)
        meta = ApplyForm(request.POST, spec=spec, user=request.user)
        meta_ok = meta.is_valid()
        try:
            if request.POST.get("action") == "draft":
                draft = services.dossier_draft_save(
                    procedure=procedure,
                    applicant=request.user,
                    data={**_form_values(form), **verified},
                    dossier=draft,
                    receiving_agency=meta.cleaned_data.get("receiving_agency") if meta_ok else None,
                )
                messages.success(
                    request,
                    _("Your draft is saved. Papers are attached when you submit the dossier."),
                )
                url = reverse("dossiers:apply", args=[code])
                return redirect(f"{url}?draft={draft.public_id}")
            form.is_valid()  # the same rules the service applies: every field's error shows
            if meta_ok:
                dossier = services.dossier_submit(
                    procedure=procedure,
                    applicant=request.user,
                    data={**_form_values(form), **verified},
                    files=paper_files(request.FILES, papers),
                    receiving_agency=meta.cleaned_data.get("receiving_agency"),
                    delivery=meta.cleaned_data["delivery"],
                    idempotency_key=meta.cleaned_data.get("idempotency_key") or "",
                    draft=draft,
                    sources=prefill.sources_record() if prefill is not None else None,
                )
                messages.success(request, _submitted_message(dossier))
                return redirect("dossiers:detail", public_id=dossier.public_id)
            status = 400
        except ThudoError as exc:
            extra = apply_errors(exc, forms_=[form, meta], papers=papers)
            status = 400 if isinstance(exc, ValidationFailed) else exc.status
    else:
        form = SpecForm(form_spec, initial=draft.data if draft else None)
        _mark_unverified(form, prefill)
        initial: dict[str, Any] = {}
        if draft:
            initial = {
                "draft": draft.public_id,
                "delivery": draft.delivery,
                "receiving_agency": draft.receiving_agency_id,
            }
        meta = ApplyForm(initial=initial, spec=spec, user=request.user)

    context = {
        "procedure": procedure,
        "summary": _procedure_summary(procedure, spec),
        "spec": spec,
        "form": form,
        "meta": meta,
        "papers": papers,
        "draft": draft,
        "errors": error_summary([form, meta], papers, extra),
        "verified_rows": once_only.verified_rows(spec, prefill),
        "source_failures": once_only.failure_rows(prefill),
    }
    return render(request, "dossiers/apply.html", context, status=status)


# --- my dossiers ---------------------------------------------------------------------------


@login_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    qs = selectors.dossiers_of_applicant(request.user)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    english = (get_language() or "vi").startswith("en")
    rows = [
        {
            "dossier": d,
            "procedure_name": (english and d.procedure.name_en) or d.procedure.name,
            "badge": status_badge(d, now),
        }
        for d in page.object_list
    ]
    return render(request, "dossiers/mine.html", {"page": page, "rows": rows})


# --- one dossier ---------------------------------------------------------------------------


def _supplement_request(dossier: Dossier) -> dict[str, Any] | None:
    """What the agency asked for in its latest request to supplement (form 02)."""
    event = dossier.events.filter(action="request_supplement").order_by("-at", "-pk").first()
    if event is None:
        return None
    data = event.data or {}
    return {
        "at": event.at,
        "note": event.note or data.get("note", ""),
        "missing": data.get("missing", []),
    }


def _detail_context(
    request: HttpRequest,
    dossier: Dossier,
    *,
    supplement_form: SupplementForm | None = None,
    supplement_papers: list[PaperInput] | None = None,
    rating_form: RatingForm | None = None,
    extra: list[str] | None = None,
) -> dict[str, Any]:
    spec = dossier.version.spec
    links = list(dossier.documents.select_related("document").order_by("created_at", "pk"))
    is_applicant = dossier.applicant_id == request.user.pk
    rating = getattr(dossier, "rating", None)
    context: dict[str, Any] = {
        "dossier": dossier,
        "procedure_name": spec_label(spec),
        "badge": status_badge(dossier),
        "timeline": [  # the officials' internal reminders are not the applicant's business
            e
            for e in selectors.dossier_timeline(dossier)
            if e["action"] not in selectors.PUBLIC_HIDDEN_ACTIONS
        ],
        "documents": [
            {
                "kind": link.kind,
                "label": _document_kind_label(link.kind),
                "document": link.document,
            }
            for link in links
            if link.kind != "result" or dossier.status in RESULT_READY
        ],
        "has_receipt": bool(dossier.code),
        "result_ready": dossier.status in RESULT_READY
        and any(link.kind == "result" for link in links),
        "is_applicant": is_applicant,
        "rating": rating,
        "supplement_request": None,
        "supplement_form": None,
        "supplement_papers": None,
        "rating_form": None,
        "errors": [],
    }
    if is_applicant and dossier.status == Status.SUPPLEMENT_REQUESTED:
        context["supplement_request"] = _supplement_request(dossier)
        context["supplement_form"] = supplement_form or SupplementForm()
        context["supplement_papers"] = supplement_papers or paper_inputs(spec, all_optional=True)
    if is_applicant and dossier.status in RATEABLE and rating is None:
        context["rating_form"] = rating_form or RatingForm()
    forms_ = [f for f in (supplement_form, rating_form) if f is not None]
    context["errors"] = error_summary(forms_, supplement_papers or [], extra or [])
    return context


def _document_kind_label(kind: str) -> str:
    try:
        return str(Document.Kind(kind).label)
    except ValueError:
        return kind


@login_required
@require_GET
def detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    dossier = _dossier(request, public_id)
    if dossier.applicant_id != request.user.pk:
        try:  # an official who may see it works on it in the workspace
            return redirect(reverse("dossiers:work", args=[dossier.public_id]))
        except NoReverseMatch:
            pass
    return render(request, "dossiers/detail.html", _detail_context(request, dossier))


@login_required
@require_POST
def supplement(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The applicant sends the papers the agency asked for; the clock resumes."""
    dossier = _dossier(request, public_id)
    form = SupplementForm(request.POST)
    papers = paper_inputs(dossier.version.spec, all_optional=True)
    extra: list[str] = []
    status = 400
    if form.is_valid():
        try:
            services.dossier_supplement(
                dossier=dossier,
                actor=request.user,
                files=paper_files(request.FILES, papers),
                note=form.cleaned_data["note"],
            )
        except ThudoError as exc:
            extra = apply_errors(exc, forms_=[form], papers=papers)
            status = 400 if isinstance(exc, ValidationFailed) else exc.status
            dossier.refresh_from_db()
        else:
            messages.success(request, _("Thank you. The agency has received your papers."))
            return redirect("dossiers:detail", public_id=dossier.public_id)
    context = _detail_context(
        request, dossier, supplement_form=form, supplement_papers=papers, extra=extra
    )
    return render(request, "dossiers/detail.html", context, status=status)


@login_required
@require_POST
def rate(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The applicant rates the service once the result is returned."""
    dossier = _dossier(request, public_id)
    form = RatingForm(request.POST)
    extra: list[str] = []
    status = 400
    if form.is_valid():
        try:
            services.dossier_rate(dossier=dossier, applicant=request.user, **form.cleaned_data)
        except ThudoError as exc:
            extra = apply_errors(exc, forms_=[form])
            status = 400 if isinstance(exc, ValidationFailed) else exc.status
            dossier.refresh_from_db()
        else:
            messages.success(request, _("Thank you for rating the service."))
            return redirect("dossiers:detail", public_id=dossier.public_id)
    context = _detail_context(request, dossier, rating_form=form, extra=extra)
    return render(request, "dossiers/detail.html", context, status=status)


@login_required
@require_GET  # type: ignore[arg-type]  # a FileResponse is no HttpResponse to the stubs
def receipt(request: HttpRequest, public_id: UUID) -> HttpResponseBase:
    """The receipt and appointment slip (form 01), issued now if the task has not yet."""
    dossier = _dossier(request, public_id)
    if not dossier.code:
        raise Http404
    document = services.dossier_receipt_issue(dossier=dossier)
    return _pdf(document, request.user, f"{dossier.code}-receipt")


@login_required
@require_GET  # type: ignore[arg-type]  # a FileResponse is no HttpResponse to the stubs
def result(request: HttpRequest, public_id: UUID) -> HttpResponseBase:
    """The signed result; the applicant's first download returns an online result."""
    dossier = _dossier(request, public_id)
    document = selectors.dossier_document(dossier, "result")
    if document is None or dossier.status not in RESULT_READY:
        raise Http404
    try:
        dossier = services.dossier_result_downloaded(dossier=dossier, user=request.user)
    except ThudoError as exc:
        messages.error(request, str(exc.message))
        return redirect("dossiers:detail", public_id=dossier.public_id)
    return _pdf(document, request.user, f"{dossier.code}-result")


# --- public look-up ------------------------------------------------------------------------


@require_GET
def lookup(request: HttpRequest) -> HttpResponse:
    """Anyone with a dossier code sees its status, timeline and due date; the applicant's name
    only with the matching personal ID."""
    form = LookupForm(request.GET if "code" in request.GET else None)
    found: dict[str, Any] | None = None
    status = 200
    not_found = False
    if form.is_bound:
        if form.is_valid():
            try:
                found = selectors.dossier_public_status(
                    code=form.cleaned_data["code"],
                    personal_id=form.cleaned_data["personal_id"] or None,
                )
            except NotFound:
                not_found = True
                status = 404
        else:
            status = 400
    response = render(
        request,
        "dossiers/lookup.html",
        {
            "form": form,
            "found": found,
            "not_found": not_found,
            "errors": error_summary([form]),
        },
        status=status,
    )
    if request.GET.get("personal_id"):  # an answer naming the applicant is never cached
        response["Cache-Control"] = "private, no-store"
    return response
