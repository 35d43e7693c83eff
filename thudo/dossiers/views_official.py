"""The officials' pages: the agency's queue, the work page of one dossier with the actions the
official may take now, the papers and documents behind permission checks, and the counter intake
for applicants who come in person.

Thin views: they parse, call one service or selector, and render. Who may see a dossier is the
selectors' rule (`dossier_for` raises NotFound for another agency's dossier: a 404 here); what
may be done is the services' (`InvalidTransition` is a 409, `PermissionDenied` a 403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from thudo.accounts.forms import apply_error
from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.calendar import get_calendar
from thudo.core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from thudo.documents import selectors as document_selectors
from thudo.procedures import selectors as procedure_selectors
from thudo.procedures.forms import SpecForm
from thudo.procedures.specs import choice_label, spec_label
from thudo.web.access import official_required

from . import once_only, selectors, services
from .forms_official import (
    ACTION_FORMS,
    ApplicantForm,
    HandOffForm,
    PapersForm,
    QueueFilterForm,
    ReturnResultForm,
    SupplementRequestForm,
    paper_field_name,
)
from .models import OPEN_STATUSES, Dossier, DossierFile, Status
from .workflow import TRANSITIONS, Transition

PAGE_SIZE = 25

FileView = Callable[..., HttpResponseBase]
official_files = cast(Callable[[FileView], FileView], official_required)
"""`official_required` for views that stream files (it passes any response through)."""


# --- shared with the API -------------------------------------------------------------------


def action_service(action: str) -> Callable[..., Dossier]:
    """The service behind an official's action (`receive` -> `services.dossier_receive`)."""
    if action not in ACTION_FORMS:
        raise NotFound(code="unknown_action")
    return getattr(services, f"dossier_{action}")  # type: ignore[no-any-return]


def soon_until(now: datetime) -> datetime:
    """Deadlines up to this moment are "due soon": one working day ahead, as the queue's
    `due="soon"` filter counts it."""
    calendar = get_calendar()
    return calendar.add_working_hours(now, calendar.day_length)


def due_state(dossier: Dossier, now: datetime, soon: datetime | None = None) -> str:
    """The badge of a dossier: "overdue", "soon", "paused" (waiting for a supplement) or ""."""
    if dossier.status == Status.SUPPLEMENT_REQUESTED:
        return "paused"
    if dossier.status not in OPEN_STATUSES or dossier.due_at is None:
        return ""
    if dossier.due_at < now:
        return "overdue"
    if dossier.due_at <= (soon or soon_until(now)):
        return "soon"
    return ""


def field_display(spec_field: dict[str, Any], value: Any) -> str:
    """A form value as the official reads it: choice labels, yes/no, dates in local format."""
    if value is None or value == "":
        return ""
    kind = spec_field.get("type")
    if kind == "boolean":
        return _("Yes") if value else _("No")
    if kind == "choice":
        for choice in spec_field.get("choices") or []:
            if str(choice[0]) == str(value):
                return choice_label(choice)
    if kind == "date":
        parsed = value if isinstance(value, date) else parse_date(str(value))
        if parsed:
            return date_format(parsed, "SHORT_DATE_FORMAT")
    return str(value)


# --- the queue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    dossier: Dossier
    due: str

    @property
    def procedure_name(self) -> str:
        procedure = self.dossier.procedure
        english = (get_language() or "").startswith("en")
        return (procedure.name_en if english and procedure.name_en else procedure.name) or ""


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 10_000))
    except ValueError:
        return 1


@never_cache
@require_GET
@official_required
def queue(request: HttpRequest) -> HttpResponse:
    """The agency's dossiers, overdue and due-soon first, 25 a page.

    The page never counts the whole queue: it fetches one row more than it shows to know
    whether there is a next page, so its cost does not grow with the table.
    """
    if not can(request.user, Perm.DOSSIER_VIEW):
        raise DjangoPermissionDenied
    form = QueueFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else {}
    page = _page_number(request.GET.get("page"))
    offset = (page - 1) * PAGE_SIZE
    found = selectors.dossier_queue_page(
        user=request.user, offset=offset, limit=PAGE_SIZE + 1, **filters
    )
    now = timezone.now()
    soon = soon_until(now)
    rows = [QueueRow(d, due_state(d, now, soon)) for d in found[:PAGE_SIZE]]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "rows": rows,
        "page": page,
        "has_previous": page > 1,
        "has_next": len(found) > PAGE_SIZE,
        "query": query.urlencode(),
        "filtered": bool(filters),
        "can_receive": can(request.user, Perm.DOSSIER_RECEIVE),
    }
    return render(request, "dossiers/official/queue.html", context)


# --- the work page -------------------------------------------------------------------------


@dataclass
class PaperRow:
    code: str
    label: str
    required: bool
    files: list[DossierFile] = field(default_factory=list)


@dataclass
class ActionPanel:
    transition: Transition
    form: forms.Form
    url: str
    open: bool = False

    @property
    def action(self) -> str:
        return self.transition.action

    @property
    def danger(self) -> bool:
        return self.transition.action in {"refuse", "reject"}


def _dossier(request: HttpRequest, public_id: UUID) -> Dossier:
    try:
        return selectors.dossier_for(request.user, public_id=public_id)
    except NotFound:
        raise Http404 from None


def _papers(dossier: Dossier, spec: dict[str, Any]) -> list[PaperRow]:
    rows = {
        p["code"]: PaperRow(p["code"], spec_label(p), bool(p.get("required")))
        for p in spec.get("papers", [])
    }
    for f in dossier.files.all():
        row = rows.get(f.paper_code)
        if row is None:  # a paper no longer in the procedure, or a free-form supplement
            row = rows[f.paper_code] = PaperRow(f.paper_code, f.paper_code, False)
        row.files.append(f)
    return list(rows.values())


def _action_form(
    action: str, dossier: Dossier, spec: dict[str, Any], data: Any = None
) -> forms.Form:
    form_class = ACTION_FORMS[action]
    prefix = action
    if form_class is SupplementRequestForm:
        papers = [(p["code"], spec_label(p)) for p in spec.get("papers", [])]
        return SupplementRequestForm(data, prefix=prefix, papers=papers)
    if form_class is HandOffForm:
        return HandOffForm(data, prefix=prefix, exclude=dossier.agency_id)
    if form_class is ReturnResultForm:
        return ReturnResultForm(data, prefix=prefix, initial={"delivery": dossier.delivery})
    return form_class(data, prefix=prefix)


def _work_context(
    request: HttpRequest, dossier: Dossier, bound: forms.Form | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = dossier.version.spec or {}
    sources = once_only.answer_sources(dossier)  # once-only: where a value came from
    answers = [
        (
            spec_label(f, key="label"),
            field_display(f, dossier.data.get(f["name"])),
            sources.get(f["name"]),
        )
        for f in spec.get("fields", [])
    ]
    documents = list(selectors.dossier_document_links(dossier))
    panels = []
    for transition in selectors.dossier_actions(request.user, dossier):
        if transition.action not in ACTION_FORMS:
            continue
        is_bound = bound is not None and bound.prefix == transition.action
        form = (
            bound
            if is_bound and bound is not None
            else _action_form(transition.action, dossier, spec)
        )
        url = reverse("dossiers:act", args=[dossier.public_id, transition.action])
        panels.append(ActionPanel(transition, form, url, open=is_bound))
    return {
        "dossier": dossier,
        "spec": spec,
        "procedure_name": spec_label(spec) if spec else str(dossier.procedure),
        "answers": answers,
        "papers": _papers(dossier, spec),
        "documents": documents,
        "timeline": selectors.dossier_timeline(dossier),
        "panels": panels,
        "due": due_state(dossier, timezone.now()),
    }


@never_cache
@require_GET
@official_required
def work(request: HttpRequest, public_id: UUID) -> HttpResponse:
    dossier = _dossier(request, public_id)
    return render(request, "dossiers/official/work.html", _work_context(request, dossier))


def action_perform(
    *, action: str, dossier: Dossier, actor: Any, arguments: dict[str, Any]
) -> Dossier:
    """Call the service behind `action` (shared by the page and the API)."""
    service = action_service(action)
    return service(dossier=dossier, actor=actor, **arguments)


@never_cache
@require_POST
@official_required
def act(request: HttpRequest, public_id: UUID, action: str) -> HttpResponse:
    """One workflow action from the work page's forms."""
    if action not in ACTION_FORMS:
        raise Http404
    dossier = _dossier(request, public_id)
    form = _action_form(action, dossier, dossier.version.spec or {}, request.POST)

    def again(status: int) -> HttpResponse:
        fresh = _dossier(request, public_id)
        context = _work_context(request, fresh, bound=form)
        if not any(p.form is form for p in context["panels"]):
            # The action is not offered now: show its errors at the top of the page.
            context["orphan_form"] = form
        return render(request, "dossiers/official/work.html", context, status=status)

    if not form.is_valid():
        return again(422)
    try:
        action_perform(
            action=action,
            dossier=dossier,
            actor=request.user,
            arguments=form.arguments(),  # type: ignore[attr-defined]
        )
    except InvalidTransition as exc:
        messages.error(request, str(exc.message))
        return again(409)
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    except ValidationFailed as exc:
        apply_error(form, exc)
        return again(422)
    messages.success(
        request,
        _("Done: %(action)s.") % {"action": TRANSITIONS[action].label},
    )
    try:
        selectors.dossier_for(request.user, public_id=public_id)
    except NotFound:  # handed off: it has left this agency's queue
        return redirect("dossiers:queue")
    return redirect("dossiers:work", public_id=public_id)


# --- files and documents -------------------------------------------------------------------


def _inline(response: FileResponse) -> FileResponse:
    """Uploaded files are the applicant's bytes: never let them run as a page of this site."""
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@official_files
def paper_file(request: HttpRequest, public_id: UUID, file_id: int) -> HttpResponseBase:
    """A paper the applicant uploaded, for an official who may see the dossier."""
    dossier = _dossier(request, public_id)
    try:
        paper = selectors.dossier_file(dossier, file_id)
    except NotFound:
        raise Http404 from None
    return _inline(
        FileResponse(
            paper.file.open("rb"),
            content_type=paper.content_type or "application/octet-stream",
            as_attachment=request.GET.get("download") == "1",
            filename=paper.original_name,
        )
    )


def _pdf(document: Any, *, attachment: bool = False) -> FileResponse:
    version = document_selectors.latest_version(document)
    return _inline(
        FileResponse(
            version.file.open("rb"),
            content_type="application/pdf",
            as_attachment=attachment,
            filename=f"{document.reference or document.public_id}-{document.kind}.pdf",
        )
    )


@require_GET
@official_files
def document_file(request: HttpRequest, public_id: UUID, document_id: UUID) -> HttpResponseBase:
    """A document issued for the dossier (receipt, forms 02–05, result), read through the
    dossier: whoever may see the dossier may read what was issued for it, even when another
    agency issued it before a hand-off."""
    dossier = _dossier(request, public_id)
    try:
        return _pdf(selectors.dossier_issued_document(dossier, document_id).document)
    except NotFound:
        raise Http404 from None


@require_GET
@official_files
def receipt(request: HttpRequest, public_id: UUID) -> HttpResponseBase:
    """The receipt (form 01) to print for the applicant; issued now if the task has not yet."""
    dossier = _dossier(request, public_id)
    if not dossier.code:
        raise Http404
    return _pdf(services.dossier_receipt_issue(dossier=dossier))


@require_POST
@official_files
def control_slip(request: HttpRequest, public_id: UUID) -> HttpResponseBase:
    """The processing-control slip (form 05): the timeline as it stands, as a PDF."""
    dossier = _dossier(request, public_id)
    try:
        document = services.dossier_control_slip(dossier=dossier, actor=request.user)
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    return _pdf(document, attachment=True)


# --- the counter ---------------------------------------------------------------------------


def _require_receive(request: HttpRequest) -> None:
    if not can(request.user, Perm.DOSSIER_RECEIVE):
        raise DjangoPermissionDenied


@never_cache
@require_GET
@official_required
def counter_pick(request: HttpRequest) -> HttpResponse:
    """The receiving officer picks the procedure the walk-in applicant comes for."""
    _require_receive(request)
    q = request.GET.get("q", "").strip()[:100]
    english = (get_language() or "").startswith("en")
    procedures = [
        (p, p.name_en if english and p.name_en else p.name)
        for p in procedure_selectors.procedure_search(q=q).select_related("sector")[:50]
    ]
    return render(
        request, "dossiers/official/counter_pick.html", {"procedures": procedures, "q": q}
    )


def _paper_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for paper in spec.get("papers", []):
        types = ", ".join(t.upper() for t in paper.get("file_types", []))
        if paper.get("required"):
            help_text = _("Mandatory paper. Scans: %(types)s, at most %(mb)s MB each.")
        else:
            help_text = _("Optional paper. Scans: %(types)s, at most %(mb)s MB each.")
        out.append(
            {
                **paper,
                "label": spec_label(paper),
                "help": help_text % {"types": types, "mb": paper.get("max_mb", "")},
            }
        )
    return out


def _place_errors(
    exc: ValidationFailed, applicant: ApplicantForm, spec_form: forms.Form, papers: PapersForm
) -> None:
    """Put the service's field errors on the form that shows that field."""
    placed = False
    for name, value in exc.as_dict()["fields"].items():
        if name.startswith("paper:"):
            target: forms.Form = papers
            key = paper_field_name(name.removeprefix("paper:"))
        elif name.startswith("applicant.") or name.startswith("applicant_"):
            target, key = applicant, name[len("applicant.") :]
        elif name in spec_form.fields:
            target, key = spec_form, name
        elif name in applicant.fields:
            target, key = applicant, name
        else:
            continue
        if key not in target.fields or target.has_error(key):
            continue
        for message in value:
            target.add_error(key, message)
        placed = True
    if not placed:
        apply_error(applicant, exc)


@never_cache
@require_http_methods(["GET", "POST"])
@official_required
def counter(request: HttpRequest, code: str) -> HttpResponse:
    """Intake at the counter: the applicant's details, the procedure's form, the scanned papers."""
    _require_receive(request)
    try:
        procedure = procedure_selectors.procedure_get(code=code)
    except NotFound:
        raise Http404 from None
    spec = procedure_selectors.procedure_current_version(procedure).spec
    paper_specs = _paper_specs(spec)
    posted = request.method == "POST"
    applicant = ApplicantForm(request.POST if posted else None, prefix="applicant")
    spec_form = SpecForm(spec, data=request.POST if posted else None)
    papers = PapersForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        papers=paper_specs,
        prefix="papers",
    )
    status = 200
    if posted:
        applicant_ok = applicant.is_valid()
        spec_ok = spec_form.is_valid()
        papers.is_valid()  # only parses the files; the service checks them
        if applicant_ok:
            try:
                dossier = services.dossier_intake(
                    officer=request.user,
                    procedure=procedure,
                    applicant=applicant.applicant(),
                    data=spec_form.cleaned_data if spec_ok else _raw_data(spec, request),
                    files=papers.files_by_code(),
                    delivery=applicant.cleaned_data["delivery"],
                )
            except PermissionDenied:
                raise DjangoPermissionDenied from None
            except ValidationFailed as exc:
                _place_errors(exc, applicant, spec_form, papers)
            else:
                messages.success(
                    request,
                    _("Dossier %(code)s is received. Print the receipt for the applicant.")
                    % {"code": dossier.code},
                )
                return redirect(reverse("dossiers:work", args=[dossier.public_id]) + "?receipt=1")
        status = 422
    context = {
        "procedure": procedure,
        "spec": spec,
        "procedure_name": spec_label(spec),
        "applicant_form": applicant,
        "spec_form": spec_form,
        "papers_form": papers,
        "errors": _error_summary(applicant, spec_form, papers) if posted else [],
    }
    return render(request, "dossiers/official/counter.html", context, status=status)


def _error_summary(*page_forms: forms.Form) -> list[dict[str, str]]:
    """Every error of the page, each linking to its field (the summary at the top)."""
    out = []
    for form in page_forms:
        for name, errors in form.errors.items():
            if name == NON_FIELD_ERRORS:
                out += [{"href": "", "label": "", "message": str(e)} for e in errors]
                continue
            bound = form[name]
            for error in errors:
                out.append(
                    {
                        "href": f"#{bound.id_for_label}",
                        "label": str(bound.label),
                        "message": str(error),
                    }
                )
    return out


def _raw_data(spec: dict[str, Any], request: HttpRequest) -> dict[str, Any]:
    """The form's values as typed, so that the service reports every fault at once."""
    names = [f["name"] for f in spec.get("fields", [])]
    return {name: request.POST.get(name) for name in names if name in request.POST}
