"""The officials' pages for residents' reports: the units' queue, the work page of one report
with the actions the official may take now, the statistics, and the moderators' pages.

Thin views: they parse, call one service or selector, and render. Who may see a report is the
selectors' rule (a report the official neither handles nor moderates is a 404 here); what may be
done is the services' (`InvalidTransition` is a 409 with a message, `PermissionDenied` a 403,
`ValidationFailed` puts its messages on the form's fields, 422). Never a 500 for a refusal.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from thudo.accounts.permissions import agencies_where, can
from thudo.accounts.roles import Perm
from thudo.core.calendar import get_calendar
from thudo.core.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ThudoError,
    ValidationFailed,
)
from thudo.web.access import official_required

from . import selectors, services
from .forms_official import (
    AcceptForm,
    AnswerForm,
    BanForm,
    NoteForm,
    QueueFilterForm,
    ReasonForm,
    RedactPhotoForm,
    RedactTextForm,
    StatsForm,
    SupportForm,
    TransferForm,
    apply_domain_error,
    error_summary,
    period_bounds,
)
from .models import (
    Assignment,
    Ban,
    Category,
    Flag,
    Report,
    ReportMedia,
    ReportStatus,
    Visibility,
)

PAGE_SIZE = 25
OPEN_ASSIGNMENTS = (Assignment.State.PENDING, Assignment.State.ACCEPTED)
ENDED_ASSIGNMENTS = (Assignment.State.TRANSFERRED, Assignment.State.ESCALATED)


def _require(request: HttpRequest, permission: str) -> None:
    if not can(request.user, permission):
        raise DjangoPermissionDenied


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 10_000))
    except ValueError:
        return 1


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def category_name(category: Category) -> str:
    english = (get_language() or "").startswith("en")
    return (category.name_en if english and category.name_en else category.name) or ""


def media_url(media: ReportMedia) -> str:
    """Where the file is served (`feedback:media` checks who may see it)."""
    try:
        return reverse("feedback:media", args=[media.pk])
    except NoReverseMatch:  # the residents' pages are not mounted
        return ""


# --- clocks ----------------------------------------------------------------------------------


def soon_until(now: datetime) -> datetime:
    """Due times up to this moment are "due soon": one working day ahead."""
    calendar = get_calendar()
    return calendar.add_working_hours(now, calendar.day_length)


def assignment_due(assignment: Assignment) -> datetime | None:
    """The clock that runs now: accept by while pending, resolve by once accepted."""
    if assignment.state == Assignment.State.PENDING:
        return assignment.accept_due
    if assignment.state == Assignment.State.ACCEPTED:
        return assignment.resolve_due
    return None


def due_state(due: datetime | None, now: datetime, soon: datetime) -> str:
    if due is None:
        return ""
    if due < now:
        return "overdue"
    if due <= soon:
        return "soon"
    return ""


# --- the queue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    assignment: Assignment
    due: datetime | None
    due_state: str

    @property
    def report(self) -> Report:
        return self.assignment.report

    @property
    def category(self) -> str:
        return category_name(self.assignment.report.category)


@never_cache
@require_GET
@official_required
def queue(request: HttpRequest) -> HttpResponse:
    """The reports assigned to the official's units, overdue first, 25 a page.

    The page never counts the queue: it fetches one row more than it shows to know whether
    there is a next page, and it reads the reports with their category and ward in the same
    query (the cost does not grow with the page).
    """
    _require(request, Perm.REPORT_HANDLE)
    agency_ids = agencies_where(request.user, Perm.REPORT_HANDLE)
    form = QueueFilterForm(request.GET or None, agency_ids=agency_ids)
    filters = form.filters()
    page = _page_number(request.GET.get("page"))
    offset = (page - 1) * PAGE_SIZE
    found = list(
        selectors.report_queue(user=request.user, **filters).select_related(
            "report__category", "report__unit", "agency"
        )[offset : offset + PAGE_SIZE + 1]
    )
    now = timezone.now()
    soon = soon_until(now)
    rows = []
    for assignment in found[:PAGE_SIZE]:
        due = assignment_due(assignment)
        rows.append(QueueRow(assignment, due, due_state(due, now, soon)))
    context = {
        "form": form,
        "rows": rows,
        "page": page,
        "has_previous": page > 1,
        "has_next": len(found) > PAGE_SIZE,
        "query": _query_without_page(request),
        "filtered": bool(filters),
        "several_units": len(agency_ids) > 1,
    }
    return render(request, "feedback/official/queue.html", context)


# --- the work page ---------------------------------------------------------------------------


@dataclass
class Panel:
    action: str
    label: str
    form: forms.Form
    url: str
    agency_code: str = ""
    open: bool = False
    danger: bool = False

    @property
    def key(self) -> str:
        return f"{self.action}-{self.agency_code}" if self.agency_code else self.action


@dataclass(frozen=True)
class AssignmentRow:
    assignment: Assignment
    due: datetime | None
    due_state: str
    mine: bool


def _handling_ids(user: Any) -> set[int]:
    return set(agencies_where(user, Perm.REPORT_HANDLE))


def _report(request: HttpRequest, report_id: int) -> Report:
    """The report, for an official of a unit that handles or handled it, or a moderator."""
    try:
        report = selectors.report_get_for(user=request.user, report_id=report_id)
    except NotFound:
        raise Http404 from None
    mine = _handling_ids(request.user)
    handles = report.assignments.filter(agency_id__in=mine).exists() if mine else False
    if not handles and not can(request.user, Perm.REPORT_MODERATE):
        raise Http404
    return report


def _action_form(
    action: str,
    report: Report,
    data: Any = None,
    files: Any = None,
    *,
    agency_code: str = "",
    templates: list[Any] | None = None,
) -> forms.Form:
    initial = {"agency": agency_code} if agency_code else None
    if action == "accept":
        return AcceptForm(data, prefix=action, initial=initial)
    if action == "transfer":
        return TransferForm(data, prefix=action, exclude=[report.agency_id])
    if action == "support":
        taken = report.assignments.exclude(state__in=ENDED_ASSIGNMENTS).values_list(
            "agency_id", flat=True
        )
        return SupportForm(data, prefix=action, exclude=[report.agency_id, *taken])
    if action == "note":
        return NoteForm(data, prefix=action)
    if action == "answer":
        return AnswerForm(
            data,
            files,
            prefix=action,
            initial=initial,
            templates=[] if agency_code else (templates or []),
            contribution=bool(agency_code),
        )
    raise Http404


ACTION_LABELS: dict[str, Callable[[], str]] = {
    "accept": lambda: _("Accept"),
    "transfer": lambda: _("Transfer to another unit"),
    "support": lambda: _("Ask units to support"),
    "note": lambda: _("Add an internal note"),
    "answer": lambda: _("Answer the resident"),
}


def _panels(
    request: HttpRequest,
    report: Report,
    assignments: list[Assignment],
    bound: forms.Form | None = None,
    bound_key: str = "",
) -> list[Panel]:
    mine = _handling_ids(request.user)
    lead = report.agency_id in mine
    status = report.status
    templates: list[Any] = []
    if lead and status == ReportStatus.ACCEPTED:
        templates = list(selectors.templates_for(agency=report.agency, category=report.category))
    wanted: list[tuple[str, str, str]] = []  # (action, agency code, label)
    if lead and status == ReportStatus.SUBMITTED:
        wanted.append(("accept", "", ACTION_LABELS["accept"]()))
    if lead and status == ReportStatus.ACCEPTED:
        wanted.append(("answer", "", ACTION_LABELS["answer"]()))
        wanted.append(("support", "", ACTION_LABELS["support"]()))
    if lead and status in (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED):
        wanted.append(("transfer", "", ACTION_LABELS["transfer"]()))
    for a in assignments:
        if a.role != Assignment.Role.SUPPORT or a.agency_id not in mine:
            continue
        unit = a.agency.name
        if a.state == Assignment.State.PENDING:
            label = _("Accept the support request for {unit}").format(unit=unit)
            wanted.append(("accept", a.agency.code, label))
        elif a.state == Assignment.State.ACCEPTED:
            label = _("Record the contribution of {unit}").format(unit=unit)
            wanted.append(("answer", a.agency.code, label))
    if any(a.agency_id in mine for a in assignments):
        wanted.append(("note", "", ACTION_LABELS["note"]()))

    panels = []
    for action, code, label in wanted:
        url = reverse(f"feedback_official:{action}", args=[report.pk])
        key = f"{action}-{code}" if code else action
        if bound is not None and key == bound_key:
            form, is_open = bound, True
        else:
            form = _action_form(action, report, agency_code=code, templates=templates)
            is_open = False
        panels.append(
            Panel(action, label, form, url, code, open=is_open, danger=action == "transfer")
        )
    return panels


EVENT_LABELS: dict[str, Callable[[], str]] = {
    "submit": lambda: _("Submitted"),
    "edit": lambda: _("Edited by the resident"),
    "withdraw": lambda: _("Withdrawn by the resident"),
    "accept": lambda: _("Accepted"),
    "transfer": lambda: _("Transferred"),
    "add_support": lambda: _("Supporting units asked"),
    "support_accept": lambda: _("Support accepted"),
    "contribution": lambda: _("Contribution of a supporting unit"),
    "note": lambda: _("Internal note"),
    "answer": lambda: _("Answered"),
    "rate": lambda: _("Rated by the resident"),
    "reopen": lambda: _("Reopened by the resident"),
    "close": lambda: _("Closed"),
    "breach": lambda: _("Deadline passed: the leaders were alerted"),
    "personal_data_removed": lambda: _("Personal data removed"),
    "flagged": lambda: _("Hidden pending review after flags"),
}


@dataclass(frozen=True)
class TimelineEntry:
    event: Any
    label: str


def event_label(action: str) -> str:
    label = EVENT_LABELS.get(action)
    return label() if label else action.replace("_", " ").capitalize()


def _answers(report: Report) -> list[tuple[str, str]]:
    """The answers to the category's questions, with the questions' labels."""
    english = (get_language() or "").startswith("en")
    questions = {q.get("code"): q for q in report.category.questions or [] if isinstance(q, dict)}
    out = []
    for code, value in (report.attributes or {}).items():
        question = questions.get(code, {})
        label = (english and question.get("label_en")) or question.get("label") or code
        names = {
            str(v.get("key")): (english and v.get("name_en")) or v.get("name") or v.get("key")
            for v in question.get("values") or []
            if isinstance(v, dict)
        }
        values = value if isinstance(value, list) else [value]
        out.append((str(label), ", ".join(str(names.get(str(v), v)) for v in values)))
    return out


def _work_context(
    request: HttpRequest, report: Report, bound: forms.Form | None = None, bound_key: str = ""
) -> dict[str, Any]:
    now = timezone.now()
    soon = soon_until(now)
    mine = _handling_ids(request.user)
    assignments = list(report.assignments.select_related("agency").order_by("created_at", "pk"))
    rows = []
    for a in assignments:
        due = assignment_due(a)
        rows.append(AssignmentRow(a, due, due_state(due, now, soon), a.agency_id in mine))
    media = [
        (m, media_url(m)) for m in selectors.report_media_for(user=request.user, report=report)
    ]
    panels = _panels(request, report, assignments, bound, bound_key)
    orphan = None
    if bound is not None and not any(p.form is bound for p in panels):
        orphan = bound  # the action is not offered now: its errors go at the top
    return {
        "report": report,
        "category": category_name(report.category),
        "report_media": [(m, u) for m, u in media if m.purpose == ReportMedia.Purpose.REPORT],
        "evidence_media": [(m, u) for m, u in media if m.purpose == ReportMedia.Purpose.EVIDENCE],
        "timeline": [
            TimelineEntry(e, event_label(e.action))
            for e in selectors.report_timeline(user=request.user, report=report)
        ],
        "answers": _answers(report),
        "assignments": rows,
        "panels": panels,
        "orphan_form": orphan,
        "errors": error_summary(bound) if bound is not None else [],
        "report_due": due_state(
            report.accept_due if report.status == ReportStatus.SUBMITTED else report.resolve_due,
            now,
            soon,
        )
        if report.status in (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)
        else "",
        "can_moderate": can(request.user, Perm.REPORT_MODERATE),
    }


@never_cache
@require_GET
@official_required
def detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _report(request, report_id)
    return render(request, "feedback/official/detail.html", _work_context(request, report))


def _perform(action: str, user: Any, report: Report, form: forms.Form) -> Any:
    arguments = form.arguments()  # type: ignore[attr-defined]
    if action == "accept":
        return services.report_accept(user=user, report=report, **arguments)
    if action == "transfer":
        return services.report_transfer(user=user, report=report, **arguments)
    if action == "support":
        return services.report_support_add(user=user, report=report, **arguments)
    if action == "note":
        return services.report_note(user=user, report=report, **arguments)
    if action == "answer":
        return services.report_answer(user=user, report=report, **arguments)
    raise Http404


def _done_message(action: str, form: forms.Form) -> str:
    if action == "accept":
        return _("The report is accepted. Its resolution clock is running.")
    if action == "transfer":
        unit = form.cleaned_data["agency"].name
        return _("The report was transferred to {unit}.").format(unit=unit)
    if action == "support":
        return _("The supporting units were asked for their help.")
    if action == "note":
        return _("The internal note was added.")
    if getattr(form, "contribution", False):
        return _("Your unit's contribution was recorded.")
    return _("The answer was sent to the resident and the followers.")


@never_cache
@require_POST
@official_required
def act(request: HttpRequest, report_id: int, action: str) -> HttpResponse:
    """One action from the work page's forms."""
    if action not in ACTION_LABELS:
        raise Http404
    report = _report(request, report_id)
    # accept and answer name the supporting unit's part they act on (empty: the lead's)
    code = (
        str(request.POST.get(f"{action}-agency", "") or "")[:32]
        if action in ("accept", "answer")
        else ""
    )
    templates = (
        list(selectors.templates_for(agency=report.agency, category=report.category))
        if action == "answer" and not code
        else []
    )
    form = _action_form(
        action, report, request.POST, request.FILES, agency_code=code, templates=templates
    )
    key = f"{action}-{code}" if code else action

    def again(status: int) -> HttpResponse:
        fresh = _report(request, report_id)
        context = _work_context(request, fresh, bound=form, bound_key=key)
        return render(request, "feedback/official/detail.html", context, status=status)

    if action == "answer" and request.POST.get("use_template") and form.is_valid():
        # Without JavaScript: put the chosen template's text in the box to edit it.
        text = form.template_text()  # type: ignore[attr-defined]
        data = request.POST.copy()
        data["answer-text"] = text or data.get("answer-text", "")
        form = _action_form(action, report, data, agency_code=code, templates=templates)
        form.is_valid()
        return again(200)
    if not form.is_valid():
        return again(422)
    try:
        _perform(action, request.user, report, form)
    except InvalidTransition as exc:
        messages.error(request, str(exc.message))
        return again(409)
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    except NotFound:
        raise Http404 from None
    except ValidationFailed as exc:
        apply_domain_error(form, exc)
        return again(422)
    except ThudoError as exc:  # e.g. throttled: a message, never a 500
        messages.error(request, str(exc.message))
        return again(exc.status)
    messages.success(request, _done_message(action, form))
    if action == "transfer":
        return redirect("feedback_official:queue")
    return redirect("feedback_official:detail", report_id=report.pk)


# --- statistics ------------------------------------------------------------------------------

STAT_COLUMNS: list[tuple[str, Callable[[], str]]] = [
    ("received", lambda: _("Received")),
    ("accepted_on_time", lambda: _("Accepted on time")),
    ("accepted_late", lambda: _("Accepted late")),
    ("resolved_on_time", lambda: _("Resolved on time")),
    ("resolved_late", lambda: _("Resolved late")),
    ("backlog", lambda: _("Open now")),
    ("overdue", lambda: _("Overdue now")),
    ("avg_resolution_hours", lambda: _("Average hours to answer")),
    ("rated", lambda: _("Rated")),
    ("satisfied", lambda: _("Satisfied")),
    ("satisfaction_rate", lambda: _("Satisfaction rate")),
]


def _cells(row: Any) -> list[Any]:
    """A statistics row's cells in the order of STAT_COLUMNS (rates as percentages)."""
    out: list[Any] = []
    for name, _label in STAT_COLUMNS:
        value = getattr(row, name)
        if name == "satisfaction_rate":
            value = "" if value is None else f"{value * 100:.0f}%"
        elif name == "avg_resolution_hours":
            value = "" if value is None else f"{value:.1f}"
        out.append(value)
    return out


@never_cache
@require_GET
@official_required
def stats(request: HttpRequest) -> HttpResponse:
    """Reports per unit and category for a period: received, on time, late, open, overdue,
    average time to answer, satisfaction; `?format=csv` downloads the same table."""
    _require(request, Perm.DASHBOARD_VIEW)
    form = StatsForm(request.GET or None)
    first, last = form.period()
    start, end = period_bounds(first, last)
    agency_ids = (
        None if request.user.is_superuser else agencies_where(request.user, Perm.DASHBOARD_VIEW)
    )
    rows = list(selectors.feedback_statistics(start=start, end=end, agency_ids=agency_ids))
    labels = [label() for _name, label in STAT_COLUMNS]
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        filename = f"feedback-{first:%Y%m%d}-{last:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response.write("\ufeff")  # spreadsheet programs then read the file as UTF-8
        writer = csv.writer(response)
        writer.writerow([_("Unit"), _("Category code"), _("Category"), *labels])
        for r in rows:
            writer.writerow([r.agency_name, r.category_code, r.category_name, *_cells(r)])
        return response
    totals = selectors.feedback_totals(start=start, end=end, agency_ids=agency_ids)
    csv_query = request.GET.copy()
    csv_query["format"] = "csv"
    context = {
        "form": form,
        "first": first,
        "last": last,
        "labels": labels,
        "rows": [{"row": r, "cells": _cells(r)} for r in rows],
        "totals": _cells(totals),
        "csv_query": csv_query.urlencode(),
    }
    return render(request, "feedback/official/stats.html", context)


# --- moderation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModerationRow:
    report: Report
    open_flags: int
    reasons: list[tuple[str, int]]

    @property
    def category(self) -> str:
        return category_name(self.report.category)


@never_cache
@require_GET
@official_required
def mod_queue(request: HttpRequest) -> HttpResponse:
    """Flagged reports first, then hidden ones, then any with open flags; 25 a page."""
    _require(request, Perm.REPORT_MODERATE)
    page = _page_number(request.GET.get("page"))
    offset = (page - 1) * PAGE_SIZE
    open_flags = Flag.objects.filter(reviewed_at__isnull=True).order_by("created_at", "pk")
    found = list(
        selectors.moderation_queue(user=request.user)
        .select_related("category", "unit")
        .prefetch_related(Prefetch("flags", queryset=open_flags, to_attr="open_flag_list"))[
            offset : offset + PAGE_SIZE + 1
        ]
    )
    labels = dict(Flag.Reason.choices)
    rows = []
    for report in found[:PAGE_SIZE]:
        flags = getattr(report, "open_flag_list", [])
        counted = Counter(f.reason for f in flags)
        reasons = [(str(labels.get(k, k)), n) for k, n in counted.most_common()]
        rows.append(ModerationRow(report, len(flags), reasons))
    context = {
        "rows": rows,
        "page": page,
        "has_previous": page > 1,
        "has_next": len(found) > PAGE_SIZE,
        "query": _query_without_page(request),
    }
    return render(request, "feedback/official/mod_queue.html", context)


MOD_ACTIONS = ("hide", "show", "dismiss", "redact_text", "redact_photo", "ban", "unban")


def _mod_report(request: HttpRequest, report_id: int) -> Report:
    _require(request, Perm.REPORT_MODERATE)
    try:
        return selectors.report_get_for(user=request.user, report_id=report_id)
    except NotFound:
        raise Http404 from None


def _active_ban(user: Any) -> Ban | None:
    if user is None:
        return None
    now = timezone.now()
    return (
        Ban.objects.filter(user=user, lifted_at__isnull=True)
        .filter(Q(until__isnull=True) | Q(until__gt=now))
        .order_by("-created_at")
        .first()
    )


def _photos(media: list[ReportMedia]) -> list[ReportMedia]:
    return [m for m in media if m.kind == ReportMedia.Kind.PHOTO]


def _mod_form(
    action: str, report: Report, photos: list[ReportMedia], data: Any = None
) -> forms.Form:
    if action == "redact_text":
        return RedactTextForm(data, prefix=action, initial={"text": report.description})
    if action == "redact_photo":
        return RedactPhotoForm(data, prefix=action, photos=photos)
    if action == "ban":
        return BanForm(data, prefix=action)
    return ReasonForm(data, prefix=action)


MOD_LABELS: dict[str, Callable[[], str]] = {
    "hide": lambda: _("Hide the report"),
    "show": lambda: _("Publish the report again"),
    "dismiss": lambda: _("Dismiss the flags"),
    "redact_text": lambda: _("Redact the text"),
    "redact_photo": lambda: _("Black out part of a photo"),
    "ban": lambda: _("Ban the reporter's account"),
    "unban": lambda: _("Lift the ban"),
}


def _mod_context(
    request: HttpRequest, report: Report, bound: forms.Form | None = None
) -> dict[str, Any]:
    media = list(selectors.report_media_for(user=request.user, report=report))
    photos = _photos(media)
    flags = list(report.flags.select_related("user").order_by("reviewed_at", "-created_at"))
    open_flags = [f for f in flags if f.reviewed_at is None]
    reporter = report.reporter
    ban = _active_ban(reporter)
    wanted = []
    if report.visibility != Visibility.HIDDEN:
        wanted.append("hide")
    if report.visibility != Visibility.PUBLIC:
        wanted.append("show")
    if open_flags:
        wanted.append("dismiss")
    wanted.append("redact_text")
    if photos:
        wanted.append("redact_photo")
    if reporter is not None:
        wanted.append("unban" if ban else "ban")
    panels = []
    for action in wanted:
        is_bound = bound is not None and bound.prefix == action
        form = bound if is_bound and bound is not None else _mod_form(action, report, photos)
        url = reverse(f"feedback_official:mod_{action}", args=[report.pk])
        panels.append(
            Panel(
                action,
                MOD_LABELS[action](),
                form,
                url,
                open=is_bound,
                danger=action in {"hide", "ban"},
            )
        )
    orphan = None
    if bound is not None and not any(p.form is bound for p in panels):
        orphan = bound
    return {
        "report": report,
        "category": category_name(report.category),
        "media": [(m, media_url(m)) for m in media],
        "flags": flags,
        "open_flags": open_flags,
        "reporter": reporter,
        "ban": ban,
        "history": list(selectors.moderation_history(user=request.user, report=report)),
        "panels": panels,
        "orphan_form": orphan,
        "errors": error_summary(bound) if bound is not None else [],
    }


@never_cache
@require_GET
@official_required
def mod_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _mod_report(request, report_id)
    return render(request, "feedback/official/mod_detail.html", _mod_context(request, report))


def _mod_perform(action: str, moderator: Any, report: Report, arguments: dict[str, Any]) -> Any:
    if action == "hide":
        return services.moderation_hide(moderator=moderator, report=report, **arguments)
    if action == "show":
        return services.moderation_show(moderator=moderator, report=report, **arguments)
    if action == "dismiss":
        return services.moderation_dismiss_flags(moderator=moderator, report=report, **arguments)
    if action == "redact_text":
        return services.moderation_redact_text(moderator=moderator, report=report, **arguments)
    if action == "redact_photo":
        return services.moderation_redact_photo(moderator=moderator, **arguments)
    if report.reporter is None:
        raise InvalidTransition(_("The report has no reporter's account any more."))
    if action == "ban":
        return services.moderation_ban(moderator=moderator, user=report.reporter, **arguments)
    return services.moderation_unban(moderator=moderator, user=report.reporter, **arguments)


MOD_DONE: dict[str, Callable[[], str]] = {
    "hide": lambda: _("The report is hidden from the public."),
    "show": lambda: _("The report is public again."),
    "dismiss": lambda: _("The flags were dismissed."),
    "redact_text": lambda: _("The text was redacted."),
    "redact_photo": lambda: _("The photo was redacted."),
    "ban": lambda: _("The account is banned."),
    "unban": lambda: _("The ban is lifted."),
}


@never_cache
@require_POST
@official_required
def mod_act(request: HttpRequest, report_id: int, action: str) -> HttpResponse:
    """One moderator's act from the moderation page's forms."""
    if action not in MOD_ACTIONS:
        raise Http404
    report = _mod_report(request, report_id)
    photos = _photos(list(selectors.report_media_for(user=request.user, report=report)))
    form = _mod_form(action, report, photos, request.POST)

    def again(status: int) -> HttpResponse:
        fresh = _mod_report(request, report_id)
        context = _mod_context(request, fresh, bound=form)
        return render(request, "feedback/official/mod_detail.html", context, status=status)

    if not form.is_valid():
        return again(422)
    try:
        _mod_perform(action, request.user, report, form.arguments())  # type: ignore[attr-defined]
    except InvalidTransition as exc:
        messages.error(request, str(exc.message))
        return again(409)
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    except NotFound:
        raise Http404 from None
    except ValidationFailed as exc:
        apply_domain_error(form, exc)
        return again(422)
    except ThudoError as exc:
        messages.error(request, str(exc.message))
        return again(exc.status)
    messages.success(request, MOD_DONE[action]())
    return redirect("feedback_official:mod_detail", report_id=report.pk)
