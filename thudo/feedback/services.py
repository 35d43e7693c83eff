"""Every write of the feedback domain: reports, their handling on working-hour clocks, answers,
ratings, follows, flags, moderation and the periodic jobs.

All services are keyword-only and take `now` for tests where time matters. Each state change runs
in one transaction that locks the report, checks the transition (`workflow.transition_check`:
409) and the actor (403) before anything is written, and records a `ReportEvent` and an audit
row. Notifications are recorded in the transaction; their e-mails go after commit (`notify`).

Files are checked and cleaned (`media.media_validate`) before any transaction opens, written
only once everything else has passed, and deleted again if the transaction fails.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency, User
from thudo.accounts.permissions import agencies_where, can
from thudo.accounts.roles import Perm, Role
from thudo.core.audit import audit_record
from thudo.core.calendar import WorkingCalendar, get_calendar
from thudo.core.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationFailed,
)
from thudo.core.models import AdminUnit

from .media import CheckedMedia, MediaRefused, media_delete, media_validate, media_write, redact
from .models import (
    DESCRIPTION_MAX,
    OPEN_STATUSES,
    Assignment,
    Ban,
    Category,
    Flag,
    Follow,
    ModerationAction,
    Report,
    ReportEvent,
    ReportMedia,
    ReportStatus,
    Urgency,
    Visibility,
)
from .workflow import transition_check

CITY_CODE = "01"
CITY_AGENCY = "HN"
ACCEPT_HOURS = 8
URGENT_HOURS = 4
DEFAULT_BOUNDS = (20.5, 105.2, 21.4, 106.1)
LANG = "vi"
OPEN_ASSIGNMENT = (Assignment.State.PENDING, Assignment.State.ACCEPTED)

# --- messages ------------------------------------------------------------------------------

MSG_SIGN_IN = _("Sign in to send a report.")
MSG_BANNED = _("Your account may not send reports or flags at the moment.")
MSG_CATEGORY = _("Choose the kind of problem.")
MSG_CATEGORY_CLOSED = _("This kind of problem is not taken any more.")
MSG_REDIRECT = _("Reports of this kind are not taken here: call {phone} at once.")
MSG_DESCRIPTION = _("Describe the problem.")
MSG_DESCRIPTION_LONG = _("Keep the description under {limit} characters.")
MSG_POSITION = _("Mark the place on the map.")
MSG_OUTSIDE = _("The place is outside the city.")
MSG_UNIT = _("Choose a ward or commune of the city.")
MSG_URGENCY = _("Choose a valid urgency.")
MSG_ADDRESS = _("Keep the address under 300 characters.")
MSG_QUESTION_REQUIRED = _("This answer is required.")
MSG_QUESTION_CHOICE = _("Choose one of the offered answers.")
MSG_QUESTION_NUMBER = _("Enter a number.")
MSG_EMAIL = _("Enter a valid e-mail address.")
MSG_FLOOD_HOUR = _("You have sent {count} reports in the last hour. Please wait a while.")
MSG_FLOOD_DAY = _("You have sent {count} reports today. Please try again tomorrow.")
MSG_NOT_YOURS = _("Only the resident who sent the report may do this.")
MSG_NOT_HANDLER = _("Your unit does not handle this report.")
MSG_TAKEN_UP = _("A unit has already taken up this report: it can no longer be changed.")
MSG_NO_AGENCY = _("No unit is set up to handle reports.")
MSG_REASON = _("Give the reason.")
MSG_TEXT = _("Write the text.")
MSG_SAME_AGENCY = _("Choose another unit.")
MSG_INACTIVE_AGENCY = _("This unit is not active.")
MSG_SUPPORT_NONE = _("Choose at least one supporting unit.")
MSG_SUPPORT_DUP = _("This unit already supports the report.")
MSG_NO_ASSIGNMENT = _("Your unit has no part in this report waiting for this action.")
MSG_RESOLUTION = _("Choose the outcome.")
MSG_EVIDENCE = _("Attach at least one photo of the fix.")
MSG_RATING = _("Choose a score from 1 to 5.")
MSG_RATED = _("The answer has already been rated.")
MSG_REOPEN_ONCE = _("A report can be reopened only once.")
MSG_REOPEN_SATISFIED = _("Rate the answer as unsatisfactory before reopening the report.")
MSG_HIDDEN = _("This report is not public.")
MSG_OWN_FLAG = _("You cannot flag your own report.")
MSG_FLAGGED = _("You have already flagged this report.")
MSG_FLAG_REASON = _("Choose a reason.")
MSG_COMMENT_LONG = _("Keep the comment under 500 characters.")
MSG_NOT_MODERATOR = _("You are not allowed to moderate reports.")
MSG_BAN_SELF = _("You cannot ban yourself.")
MSG_BAN_UNTIL = _("The end of the ban must be in the future.")
MSG_NOT_BANNED = _("This account is not banned.")
MSG_NOT_PHOTO = _("Only a photo can be redacted.")

T_STATUS = _("Report #{id}: {status}")
B_STATUS = _("Report #{id} ({category}) is now “{status}”. {note}")
T_BREACH = _("Report #{id} is overdue")
B_BREACH_ACCEPT = _("Report #{id} ({category}) was due to be accepted by {due}. Unit: {agency}.")
B_BREACH_RESOLVE = _("Report #{id} ({category}) was due to be resolved by {due}. Unit: {agency}.")
T_REOPENED = _("Report #{id} was reopened")
B_REOPENED = _(
    "The resident was not satisfied with the answer of {previous}. Your unit now handles "
    "report #{id} ({category}). Reason: {reason}"
)


# --- small helpers -------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _text(message: Any, **kwargs: Any) -> str:
    return str(format_lazy(message, **kwargs)) if kwargs else str(message)


def _calendar() -> WorkingCalendar:
    return get_calendar()


def report_url(report: Report) -> str:
    try:
        return reverse("feedback:detail", args=[report.pk])
    except NoReverseMatch:
        return f"/feedback/{report.pk}/"


def report_official_url(report: Report) -> str:
    try:
        return reverse("feedback_official:detail", args=[report.pk])
    except NoReverseMatch:
        return f"/workspace/feedback/{report.pk}/"


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _moment_text(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return timezone.localtime(moment).strftime("%H:%M %d/%m/%Y")


def _locked(report: Report) -> Report:
    """The report, re-read under a row lock (PostgreSQL; SQLite serialises writers)."""
    try:
        return (
            Report.objects.select_for_update(of=("self",))
            .select_related("category", "agency", "unit")
            .get(pk=report.pk)
        )
    except Report.DoesNotExist:
        raise NotFound() from None


def _refresh(target: Report, source: Report) -> Report:
    """Copy the locked row's fields onto the caller's instance, so it sees the change."""
    if target is not source:
        target.__dict__.update(
            {k: v for k, v in source.__dict__.items() if k != "_state" and not k.startswith("_")}
        )
        target._state = copy.copy(source._state)
    return source


def _event(
    report: Report,
    *,
    actor: Any,
    action: str,
    at: datetime,
    from_status: str = "",
    to_status: str = "",
    agency: Agency | None = None,
    note: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
    audit: bool = True,
) -> ReportEvent:
    """The timeline event and its audit row, in the caller's transaction."""
    event = ReportEvent.objects.create(
        report=report,
        at=at,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=_user(actor),
        agency=agency if agency is not None else report.agency,
        note=note,
        public=public,
        data=data or {},
    )
    if audit:
        audit_record(
            actor=actor if actor is not None else "system",
            action=f"feedback.{action}",
            obj=report,
            from_state=from_status,
            to_state=to_status,
            data={"event": event.pk, **(data or {})},
        )
    return event


def _notify(user: Any, title: Any, body: Any, *, url: str, **values: Any) -> None:
    """A notification rendered in Vietnamese."""
    from thudo.notifications.services import notify

    with translation.override(LANG):
        rendered = {k: (str(v) if isinstance(v, Promise) else v) for k, v in values.items()}
        notify(user=user, title=_text(title, **rendered), body=_text(body, **rendered), url=url)


def _notify_followers(report: Report, *, actor: Any, note: str = "") -> int:
    """Every follower but the actor hears of the report's new status (in-app and e-mail)."""
    followers = Follow.objects.filter(report=report, user__is_active=True).select_related("user")
    actor_id = getattr(_user(actor), "pk", None)
    if actor_id is not None:
        followers = followers.exclude(user_id=actor_id)
    count = 0
    with translation.override(LANG):
        status = str(ReportStatus(report.status).label)
        category = str(report.category)
    for follow in followers:
        _notify(
            follow.user,
            T_STATUS,
            B_STATUS,
            url=report_url(report),
            id=report.pk,
            status=status,
            category=category,
            note=note,
        )
        count += 1
    return count


def _leaders(agency: Agency) -> list[User]:
    """The approvers of the unit, else of its parent unit."""
    for candidate in [agency, *([agency.parent] if agency.parent_id else [])]:
        if candidate is None:
            continue
        users = list(
            User.objects.filter(
                memberships__agency=candidate,
                memberships__role=Role.APPROVER,
                is_active=True,
            ).distinct()
        )
        if users:
            return users
    return []


def _handles(user: Any, agency: Agency | None) -> bool:
    return agency is not None and can(user, Perm.REPORT_HANDLE, agency)


def _require_moderator(moderator: Any) -> None:
    if not can(moderator, Perm.REPORT_MODERATE):
        raise PermissionDenied(MSG_NOT_MODERATOR)


def _require_reporter(user: Any, report: Report) -> None:
    if _user(user) is None or report.reporter_id != user.pk:
        raise PermissionDenied(MSG_NOT_YOURS)


def user_banned(user: Any, *, now: datetime | None = None) -> bool:
    """Whether the account is under a ban now."""
    if _user(user) is None:
        return False
    moment = _now(now)
    return (
        Ban.objects.filter(user=user, lifted_at__isnull=True)
        .filter(Q(until__isnull=True) | Q(until__gt=moment))
        .exists()
    )


def _require_not_banned(user: Any, now: datetime) -> None:
    if user_banned(user, now=now):
        raise PermissionDenied(MSG_BANNED, code="banned")


def _lead(report: Report, *, states: Iterable[str] = OPEN_ASSIGNMENT) -> Assignment | None:
    return (
        Assignment.objects.select_for_update(of=("self",))
        .filter(report=report, role=Assignment.Role.LEAD, state__in=list(states))
        .order_by("-created_at", "-pk")
        .first()
    )


# --- clocks and routing ---------------------------------------------------------------------


def accept_due_from(moment: datetime, *, urgent: bool = False) -> datetime:
    """8 working hours (4 when urgent) from the next working moment."""
    calendar = _calendar()
    start = calendar.next_working_moment(moment)
    return calendar.add_working_hours(start, URGENT_HOURS if urgent else ACCEPT_HOURS)


def resolve_due_from(moment: datetime, *, category: Category, urgency: str) -> datetime:
    """The citizen's deadline: 4 working hours when urgent, else the category's working days."""
    calendar = _calendar()
    if urgency == Urgency.URGENT:
        return calendar.add_working_hours(calendar.next_working_moment(moment), URGENT_HOURS)
    days = category.complex_days if urgency == Urgency.COMPLEX else category.normal_days
    return calendar.add_working_days(moment, int(days))


def city_agency() -> Agency | None:
    """The city committee (code HN, kind city_committee), else any root city committee."""
    found = Agency.objects.filter(
        code=CITY_AGENCY, kind=Agency.Kind.CITY_COMMITTEE, is_active=True
    ).first()
    if found is None:
        found = (
            Agency.objects.filter(kind=Agency.Kind.CITY_COMMITTEE, is_active=True)
            .order_by("parent_id", "code")
            .first()
        )
    return found


def route(*, category: Category, unit: AdminUnit) -> Agency:
    """The unit that handles a new report: the ward's committee or the category's department,
    else the city committee."""
    agency: Agency | None = None
    if category.handler == Category.Handler.COMMUNE:
        candidates = Agency.objects.filter(
            admin_unit=unit, kind=Agency.Kind.COMMUNE_COMMITTEE, is_active=True
        )
        agency = candidates.filter(code=f"{CITY_AGENCY}-{unit.code}").first() or (
            candidates.order_by("code").first()
        )
    elif category.department_id:
        department = category.department
        if department is not None and department.is_active:
            agency = department
    agency = agency or city_agency()
    if agency is None:
        raise ValidationFailed(fields={"category": MSG_NO_AGENCY})
    return agency


def _escalation_target(report: Report) -> Agency:
    """Where a reopened report goes: from a ward to the category's department (else the city),
    from anything else to the city committee."""
    current = report.agency
    department = report.category.department
    if (
        current.kind == Agency.Kind.COMMUNE_COMMITTEE
        and department is not None
        and department.is_active
        and department.pk != current.pk
    ):
        return department
    city = city_agency()
    if city is None:
        raise ValidationFailed(fields={"reason": MSG_NO_AGENCY})
    return city


# --- input checks ---------------------------------------------------------------------------


def _bounds() -> tuple[float, float, float, float]:
    raw = _setting("FEEDBACK_BOUNDS", DEFAULT_BOUNDS)
    min_lat, min_lng, max_lat, max_lng = (float(v) for v in raw)
    return min_lat, min_lng, max_lat, max_lng


def position_check(latitude: Any, longitude: Any) -> tuple[float, float]:
    """A position inside the city's box, or ValidationFailed on "position"."""
    if latitude is None or longitude is None or latitude == "" or longitude == "":
        raise ValidationFailed(fields={"position": MSG_POSITION})
    try:
        lat, lng = float(latitude), float(longitude)
    except (TypeError, ValueError):
        raise ValidationFailed(fields={"position": MSG_POSITION}) from None
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise ValidationFailed(fields={"position": MSG_POSITION})
    min_lat, min_lng, max_lat, max_lng = _bounds()
    if not (min_lat <= lat <= max_lat and min_lng <= lng <= max_lng):
        raise ValidationFailed(fields={"position": MSG_OUTSIDE})
    return lat, lng


def unit_resolve(
    *, latitude: float, longitude: float, unit_code: str = ""
) -> tuple[AdminUnit, bool]:
    """The ward of a position (exact from boundaries, else the nearest), or the ward the
    reporter confirmed (`unit_code`, a commune-level unit of the city)."""
    from thudo.core.units import unit_at

    found, exact = unit_at(latitude=latitude, longitude=longitude, province=CITY_CODE)
    code = _clean(unit_code)
    if code:
        unit = AdminUnit.objects.filter(
            code=code, level=AdminUnit.Level.COMMUNE, parent__code=CITY_CODE
        ).first()
        if unit is None:
            raise ValidationFailed(fields={"unit_code": MSG_UNIT})
        return unit, bool(exact and found is not None and found.pk == unit.pk)
    if found is None:
        raise ValidationFailed(fields={"unit_code": MSG_UNIT})
    return found, exact


def _category_check(category: Category | None, field: str = "category") -> Category:
    if category is None:
        raise ValidationFailed(fields={field: MSG_CATEGORY})
    if not category.is_active:
        raise ValidationFailed(fields={field: MSG_CATEGORY_CLOSED})
    if category.redirect_phone:
        raise ValidationFailed(
            fields={field: format_lazy(MSG_REDIRECT, phone=category.redirect_phone)},
            code="redirect",
        )
    return category


def _description_check(description: str | None) -> str:
    text = _clean(description)
    if not text:
        raise ValidationFailed(fields={"description": MSG_DESCRIPTION})
    if len(text) > DESCRIPTION_MAX:
        raise ValidationFailed(
            fields={"description": format_lazy(MSG_DESCRIPTION_LONG, limit=DESCRIPTION_MAX)}
        )
    return text


def _address_check(address: str | None) -> str:
    text = " ".join(_clean(address).split())
    if len(text) > 300:
        raise ValidationFailed(fields={"address": MSG_ADDRESS})
    return text


def attributes_check(category: Category, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The answers to the category's questions, cleaned; unknown keys are dropped. Errors are
    keyed ``attribute:<code>``."""
    given = dict(attributes or {})
    cleaned: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for question in category.questions or []:
        if not isinstance(question, Mapping) or not question.get("code"):
            continue
        code = str(question["code"])
        key = f"attribute:{code}"
        datatype = str(question.get("datatype") or "string")
        value = given.get(code)
        empty = value is None or value == "" or value == []
        if empty:
            if question.get("required"):
                errors[key] = MSG_QUESTION_REQUIRED
            continue
        keys = {str(v.get("key")) for v in question.get("values") or [] if isinstance(v, Mapping)}
        if datatype == "singlevaluelist":
            if isinstance(value, list | tuple):
                value = value[0] if len(value) == 1 else None
            if str(value) not in keys:
                errors[key] = MSG_QUESTION_CHOICE
                continue
            cleaned[code] = str(value)
        elif datatype == "multivaluelist":
            values = [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
            if any(v not in keys for v in values):
                errors[key] = MSG_QUESTION_CHOICE
                continue
            cleaned[code] = values
        elif datatype == "number":
            try:
                number = float(cast(Any, value))
            except (TypeError, ValueError):
                errors[key] = MSG_QUESTION_NUMBER
                continue
            if not math.isfinite(number):
                errors[key] = MSG_QUESTION_NUMBER
                continue
            cleaned[code] = int(number) if number.is_integer() else number
        else:
            cleaned[code] = str(value).strip()[:2000]
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _urgency_pick(category: Category, urgency: str) -> str:
    choice = _clean(urgency)
    if not choice:
        return category.default_urgency
    if choice not in Urgency.values:
        raise ValidationFailed(fields={"urgency": MSG_URGENCY})
    return Urgency.URGENT if choice == Urgency.URGENT else category.default_urgency


def _flood_check(*, reporter: Any, contact: Mapping[str, Any], client: Any, now: datetime) -> None:
    """Throttled (429) when one account sent too many reports in the last hour or day."""
    scope: Q | None = None
    if _user(reporter) is not None:
        scope = Q(reporter=reporter)
    elif client is not None and (contact.get("email") or contact.get("device_id")):
        who = Q()
        if contact.get("email"):
            who |= Q(reporter_email=contact["email"])
        if contact.get("device_id"):
            who |= Q(device_id=contact["device_id"])
        scope = Q(client=client) & who
    if scope is None:
        return
    per_hour = int(_setting("FEEDBACK_MAX_REPORTS_PER_HOUR", 5))
    per_day = int(_setting("FEEDBACK_MAX_REPORTS_PER_DAY", 20))
    for window, limit, message in (
        (timedelta(hours=1), per_hour, MSG_FLOOD_HOUR),
        (timedelta(days=1), per_day, MSG_FLOOD_DAY),
    ):
        recent = Report.objects.filter(scope, submitted_at__gt=now - window)
        count = recent.count()
        if count >= limit:
            times = list(
                recent.order_by("-submitted_at").values_list("submitted_at", flat=True)[:limit]
            )
            oldest = times[-1] if times else now
            retry = max(1, math.ceil((oldest + window - now).total_seconds()))
            raise Throttled(format_lazy(message, count=count), retry_after=retry)


def _contact_clean(contact: Mapping[str, Any] | None) -> dict[str, str]:
    data = dict(contact or {})
    email = _clean(data.get("email"))[:254]
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationFailed(fields={"email": MSG_EMAIL}) from None
    return {
        "name": " ".join(_clean(data.get("name")).split())[:150],
        "email": email,
        "phone": _clean(data.get("phone"))[:20],
        "device_id": _clean(data.get("device_id"))[:100],
    }


def _run_with_files(
    stored: list[str], work: Callable[[], Any]
) -> Any:  # pragma: no cover - trivial wrapper
    try:
        with transaction.atomic():
            return work()
    except BaseException:
        media_delete(stored)
        raise


# --- submit, edit, withdraw -----------------------------------------------------------------


def report_submit(
    *,
    reporter: Any | None,
    category: Category,
    description: str,
    latitude: float | None,
    longitude: float | None,
    address: str = "",
    unit_code: str = "",
    urgency: str = "",
    attributes: dict[str, Any] | None = None,
    media: Sequence[Any] = (),
    show_name: bool = False,
    source: str = Report.Source.WEB,
    client: Any | None = None,
    contact: dict[str, Any] | None = None,
    require_media: bool = True,
    now: datetime | None = None,
) -> Report:
    """A resident's (or an Open311 client's) new report, routed and on its clocks.

    Every check runs before anything is written; files are stored only then, and deleted
    again if the transaction fails."""
    moment = _now(now)
    reporter = _user(reporter)
    client = _user(client)
    if reporter is None and client is None:
        raise PermissionDenied(MSG_SIGN_IN, code="authentication_required")
    if reporter is not None:
        _require_not_banned(reporter, moment)
    person = _contact_clean(contact)
    _flood_check(reporter=reporter, contact=person, client=client, now=moment)

    errors: dict[str, Any] = {}
    checked: list[CheckedMedia] = []
    values: dict[str, Any] = {}
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("category", lambda: _category_check(category)),
        ("description", lambda: _description_check(description)),
        ("address", lambda: _address_check(address)),
        ("position", lambda: position_check(latitude, longitude)),
    ]
    for name, check in checks:
        try:
            values[name] = check()
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if "position" in values:
        try:
            values["unit"] = unit_resolve(
                latitude=values["position"][0], longitude=values["position"][1], unit_code=unit_code
            )
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if "category" in values:
        more: list[tuple[str, Callable[[], Any]]] = [
            ("attributes", lambda: attributes_check(category, attributes)),
            ("urgency", lambda: _urgency_pick(category, urgency)),
        ]
        for name, check in more:
            try:
                values[name] = check()
            except ValidationFailed as exc:
                errors.update(exc.fields)
    try:
        checked = media_validate(
            media, purpose=ReportMedia.Purpose.REPORT, field="media", required=require_media
        )
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationFailed(fields=errors)

    lat, lng = values["position"]
    unit, exact = values["unit"]
    agency = route(category=category, unit=unit)
    level_urgency = values["urgency"]
    urgent = level_urgency == Urgency.URGENT
    accept_due = accept_due_from(moment, urgent=urgent)
    resolve_due = (
        accept_due if urgent else resolve_due_from(moment, category=category, urgency=level_urgency)
    )
    if reporter is not None and not person["name"]:
        person.update(
            name=(reporter.full_name or reporter.get_username())[:150],
            email=person["email"] or (reporter.email or ""),
            phone=person["phone"] or (reporter.phone or ""),
        )
    report = Report(
        category=category,
        reporter=reporter,
        reporter_name=person["name"],
        reporter_email=person["email"],
        reporter_phone=person["phone"],
        device_id=person["device_id"],
        show_name=bool(show_name) and bool(person["name"]),
        source=source if source in Report.Source.values else Report.Source.WEB,
        client=client,
        description=values["description"],
        attributes=values["attributes"],
        address=values["address"],
        latitude=lat,
        longitude=lng,
        unit=unit,
        unit_exact=exact,
        urgency=level_urgency,
        status=ReportStatus.SUBMITTED,
        visibility=Visibility.PUBLIC,
        agency=agency,
        level=0,
        submitted_at=moment,
        accept_due=accept_due,
        resolve_due=resolve_due,
        updated_at=moment,
        follower_count=1 if reporter is not None else 0,
    )
    stored: list[str] = []

    def work() -> Report:
        report.save()
        Assignment.objects.create(
            report=report,
            agency=agency,
            role=Assignment.Role.LEAD,
            state=Assignment.State.PENDING,
            created_at=moment,
            accept_due=accept_due,
            resolve_due=resolve_due,
        )
        event = _event(
            report,
            actor=reporter or client,
            action="submit",
            at=moment,
            to_status=ReportStatus.SUBMITTED,
            data={"source": report.source, "files": len(checked), "urgency": level_urgency},
        )
        rows = media_write(
            report=report, checked=checked, stored=stored, uploaded_by=reporter, event=event
        )
        ReportMedia.objects.bulk_create(rows)
        if reporter is not None:
            Follow.objects.create(report=report, user=reporter, created_at=moment)
        return report

    return _run_with_files(stored, work)  # type: ignore[no-any-return]


@transaction.atomic
def report_edit(
    *,
    user: Any,
    report: Report,
    description: str | None = None,
    address: str | None = None,
    category: Category | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    now: datetime | None = None,
) -> Report:
    """The reporter corrects the report while no unit has accepted it. A new place or category
    is routed again and its clocks restart from the submission."""
    moment = _now(now)
    locked = _locked(report)
    _require_reporter(user, locked)
    transition_check(locked, "edit")
    _require_never_accepted(locked)
    changed: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    if description is not None:
        try:
            text = _description_check(description)
            if text != locked.description:
                changed["description"] = text
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if address is not None:
        try:
            text = _address_check(address)
            if text != locked.address:
                changed["address"] = text
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if category is not None and category.pk != locked.category_id:
        try:
            changed["category"] = _category_check(category)
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if latitude is not None or longitude is not None:
        try:
            lat, lng = position_check(latitude, longitude)
            if (lat, lng) != (locked.latitude, locked.longitude):
                changed["latitude"], changed["longitude"] = lat, lng
                try:
                    unit, exact = unit_resolve(latitude=lat, longitude=lng)
                    changed["unit"], changed["unit_exact"] = unit, exact
                except ValidationFailed:
                    pass  # keep the ward the reporter confirmed
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailed(fields=errors)
    if not changed:
        return _refresh(report, locked)
    before = {
        k: (getattr(locked, f"{k}_id") if k in ("category", "unit") else getattr(locked, k))
        for k in changed
    }
    for key, value in changed.items():
        setattr(locked, key, value)
    if "category" in changed:
        locked.urgency = (
            Urgency.URGENT if locked.urgency == Urgency.URGENT else locked.category.default_urgency
        )
    data: dict[str, Any] = {"fields": sorted(changed), "before": _json(before)}
    if "category" in changed or "unit" in changed:
        agency = route(category=locked.category, unit=locked.unit)
        urgent = locked.urgency == Urgency.URGENT
        locked.accept_due = accept_due_from(locked.submitted_at, urgent=urgent)
        locked.resolve_due = (
            locked.accept_due
            if urgent
            else resolve_due_from(
                locked.submitted_at, category=locked.category, urgency=locked.urgency
            )
        )
        if agency.pk != locked.agency_id:
            data["agency"] = [locked.agency_id, agency.pk]
            locked.agency = agency
        lead = _lead(locked)
        if lead is not None:
            lead.agency = agency
            lead.accept_due, lead.resolve_due = locked.accept_due, locked.resolve_due
            lead.save(update_fields=["agency", "accept_due", "resolve_due"])
    locked.updated_at = moment
    locked.save()
    _event(locked, actor=user, action="edit", at=moment, data=data)
    return _refresh(report, locked)


def report_taken_up(report: Report) -> bool:
    """Whether a unit has taken the report up: accepted it at some point (a transfer of an
    accepted report does not undo that) or it was reopened. The reporter may then no longer
    edit or withdraw it."""
    return (
        report.level > 0
        or Assignment.objects.filter(report=report, accepted_at__isnull=False).exists()
    )


def _require_never_accepted(report: Report) -> None:
    """Edit and withdraw are for a report no unit has taken up yet."""
    if report_taken_up(report):
        raise InvalidTransition(MSG_TAKEN_UP)


def _json(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        out[key] = (
            value if isinstance(value, str | int | float | bool) or value is None else str(value)
        )
    return out


@transaction.atomic
def report_withdraw(*, user: Any, report: Report, now: datetime | None = None) -> Report:
    """The reporter takes the report back before a unit has accepted it."""
    moment = _now(now)
    locked = _locked(report)
    _require_reporter(user, locked)
    transition = transition_check(locked, "withdraw")
    _require_never_accepted(locked)
    previous = locked.status
    locked.status = str(transition.target)
    locked.closed_at = moment
    locked.updated_at = moment
    locked.save(update_fields=["status", "closed_at", "updated_at"])
    Assignment.objects.filter(report=locked, state__in=OPEN_ASSIGNMENT).update(
        state=Assignment.State.CLOSED, ended_at=moment
    )
    _event(
        locked,
        actor=user,
        action="withdraw",
        at=moment,
        from_status=previous,
        to_status=locked.status,
    )
    _notify_followers(locked, actor=user)
    return _refresh(report, locked)


# --- handling --------------------------------------------------------------------------------


def _support_assignment(
    user: Any, report: Report, agency: Agency | None, states: Iterable[str]
) -> Assignment | None:
    """The user's supporting unit's assignment (in `agency` if given) in one of `states`."""
    ids = agencies_where(user, Perm.REPORT_HANDLE)
    qs = Assignment.objects.select_for_update(of=("self",)).filter(
        report=report, role=Assignment.Role.SUPPORT, state__in=list(states), agency_id__in=ids
    )
    if agency is not None:
        qs = qs.filter(agency=agency)
    return qs.select_related("agency").order_by("created_at", "pk").first()


def _is_lead_actor(user: Any, report: Report, agency: Agency | None) -> bool:
    if agency is not None and agency.pk != report.agency_id:
        return False
    return _handles(user, report.agency)


@transaction.atomic
def report_accept(
    *, user: Any, report: Report, agency: Agency | None = None, now: datetime | None = None
) -> Report:
    """The lead unit accepts the report (its accept clock is settled), or a supporting unit
    accepts its own part (`agency` picks it when the user works in several)."""
    moment = _now(now)
    locked = _locked(report)
    if _is_lead_actor(user, locked, agency):
        transition = transition_check(locked, "accept")
        lead = _lead(locked, states=[Assignment.State.PENDING])
        previous = locked.status
        locked.status = str(transition.target)
        locked.accepted_at = moment
        if locked.accepted_on_time is None:
            locked.accepted_on_time = moment <= locked.accept_due
        locked.updated_at = moment
        locked.save(update_fields=["status", "accepted_at", "accepted_on_time", "updated_at"])
        if lead is not None:
            lead.state = Assignment.State.ACCEPTED
            lead.accepted_at = moment
            lead.escalated_at = None  # a breach of the resolve clock is reported afresh
            lead.save(update_fields=["state", "accepted_at", "escalated_at"])
        _event(
            locked,
            actor=user,
            action="accept",
            at=moment,
            from_status=previous,
            to_status=locked.status,
            data={"on_time": bool(locked.accepted_on_time)},
        )
        _notify_followers(locked, actor=user)
        return _refresh(report, locked)
    if locked.status not in OPEN_STATUSES:
        transition_check(locked, "accept")
    part = _support_assignment(user, locked, agency, [Assignment.State.PENDING])
    if part is None:
        if _support_assignment(user, locked, agency, [Assignment.State.ACCEPTED]) is not None:
            raise InvalidTransition(MSG_NO_ASSIGNMENT)
        raise PermissionDenied(MSG_NOT_HANDLER)
    part.state = Assignment.State.ACCEPTED
    part.accepted_at = moment
    part.escalated_at = None
    part.save(update_fields=["state", "accepted_at", "escalated_at"])
    _event(
        locked,
        actor=user,
        action="support_accept",
        at=moment,
        agency=part.agency,
        public=False,
        data={"assignment": part.pk, "on_time": moment <= part.accept_due},
    )
    return _refresh(report, locked)


@transaction.atomic
def report_transfer(
    *, user: Any, report: Report, agency: Agency, reason: str, now: datetime | None = None
) -> Report:
    """The lead unit hands the report to another unit: a new accept clock (8 working hours, 4
    when urgent), the same deadline."""
    moment = _now(now)
    locked = _locked(report)
    if not _handles(user, locked.agency):
        raise PermissionDenied(MSG_NOT_HANDLER)
    transition = transition_check(locked, "transfer")
    text = _clean(reason)
    if not text:
        raise ValidationFailed(fields={"reason": MSG_REASON})
    if agency is None or agency.pk == locked.agency_id:
        raise ValidationFailed(fields={"agency": MSG_SAME_AGENCY})
    if not agency.is_active:
        raise ValidationFailed(fields={"agency": MSG_INACTIVE_AGENCY})
    previous_status, previous_agency = locked.status, locked.agency
    lead = _lead(locked)
    if lead is not None:
        lead.state = Assignment.State.TRANSFERRED
        lead.ended_at = moment
        lead.save(update_fields=["state", "ended_at"])
    Assignment.objects.filter(
        report=locked, role=Assignment.Role.SUPPORT, state__in=OPEN_ASSIGNMENT
    ).update(state=Assignment.State.CLOSED, ended_at=moment)
    accept_due = accept_due_from(moment, urgent=locked.urgency == Urgency.URGENT)
    Assignment.objects.create(
        report=locked,
        agency=agency,
        role=Assignment.Role.LEAD,
        state=Assignment.State.PENDING,
        created_at=moment,
        accept_due=accept_due,
        resolve_due=locked.resolve_due,
        note=text,
    )
    locked.status = str(transition.target)
    locked.agency = agency
    locked.accept_due = accept_due
    locked.accepted_at = None
    locked.updated_at = moment
    locked.save(update_fields=["status", "agency", "accept_due", "accepted_at", "updated_at"])
    _event(
        locked,
        actor=user,
        action="transfer",
        at=moment,
        from_status=previous_status,
        to_status=locked.status,
        agency=previous_agency,
        note=text,
        data={"from_agency": previous_agency.pk, "to_agency": agency.pk, "to_name": agency.name},
    )
    _notify_followers(locked, actor=user)
    return _refresh(report, locked)


@transaction.atomic
def report_support_add(
    *,
    user: Any,
    report: Report,
    agencies: Sequence[Agency],
    note: str = "",
    now: datetime | None = None,
) -> Report:
    """The lead unit asks other units to support: each gets its own part and accept clock (8
    working hours, 4 when urgent)."""
    moment = _now(now)
    locked = _locked(report)
    if not _handles(user, locked.agency):
        raise PermissionDenied(MSG_NOT_HANDLER)
    transition_check(locked, "add_support")
    targets: list[Agency] = []
    for agency in agencies or ():
        if agency is None or any(a.pk == agency.pk for a in targets):
            continue
        targets.append(agency)
    if not targets:
        raise ValidationFailed(fields={"agencies": MSG_SUPPORT_NONE})
    existing = set(
        Assignment.objects.filter(
            report=locked, role=Assignment.Role.SUPPORT, state__in=OPEN_ASSIGNMENT
        ).values_list("agency_id", flat=True)
    )
    for agency in targets:
        if agency.pk == locked.agency_id:
            raise ValidationFailed(fields={"agencies": MSG_SAME_AGENCY})
        if not agency.is_active:
            raise ValidationFailed(fields={"agencies": MSG_INACTIVE_AGENCY})
        if agency.pk in existing:
            raise ValidationFailed(fields={"agencies": MSG_SUPPORT_DUP})
    text = _clean(note)
    accept_due = accept_due_from(moment, urgent=locked.urgency == Urgency.URGENT)
    Assignment.objects.bulk_create(
        [
            Assignment(
                report=locked,
                agency=agency,
                role=Assignment.Role.SUPPORT,
                state=Assignment.State.PENDING,
                created_at=moment,
                accept_due=accept_due,
                resolve_due=locked.resolve_due,
                note=text,
            )
            for agency in targets
        ]
    )
    locked.updated_at = moment
    locked.save(update_fields=["updated_at"])
    _event(
        locked,
        actor=user,
        action="add_support",
        at=moment,
        note=text,
        public=False,
        data={"agencies": [a.pk for a in targets]},
    )
    return _refresh(report, locked)


def _handling_agencies(report: Report) -> set[int]:
    ids = set(Assignment.objects.filter(report=report).values_list("agency_id", flat=True))
    ids.add(report.agency_id)
    return ids


def user_handles(user: Any, report: Report) -> bool:
    """Whether the user holds REPORT_HANDLE in a unit that has (or had) a part in the report."""
    if _user(user) is None:
        return False
    mine = set(agencies_where(user, Perm.REPORT_HANDLE))
    return bool(mine & _handling_agencies(report))


@transaction.atomic
def report_note(
    *, user: Any, report: Report, text: str, now: datetime | None = None
) -> ReportEvent:
    """An internal note by an official of a handling unit (never public)."""
    moment = _now(now)
    locked = _locked(report)
    if not user_handles(user, locked):
        raise PermissionDenied(MSG_NOT_HANDLER)
    body = _clean(text)
    if not body:
        raise ValidationFailed(fields={"text": MSG_TEXT})
    if len(body) > DESCRIPTION_MAX:
        raise ValidationFailed(
            fields={"text": format_lazy(MSG_DESCRIPTION_LONG, limit=DESCRIPTION_MAX)}
        )
    mine = set(agencies_where(user, Perm.REPORT_HANDLE))
    agency = (
        locked.agency
        if locked.agency_id in mine
        else Agency.objects.filter(pk__in=mine & _handling_agencies(locked)).first()
    )
    return _event(
        locked, actor=user, action="note", at=moment, agency=agency, note=body, public=False
    )


def report_answer(
    *,
    user: Any,
    report: Report,
    text: str,
    resolution: str,
    evidence: Sequence[Any] = (),
    agency: Agency | None = None,
    now: datetime | None = None,
) -> Report:
    """The lead unit answers (resolution "fixed" needs a photo of the fix), or a supporting
    unit records its contribution on its own part (internal; the status does not change)."""
    moment = _now(now)
    if not user_handles(user, report):  # before any file is decoded
        raise PermissionDenied(MSG_NOT_HANDLER)
    body = _clean(text)
    errors: dict[str, Any] = {}
    if not body:
        errors["text"] = MSG_TEXT
    elif len(body) > DESCRIPTION_MAX:
        errors["text"] = format_lazy(MSG_DESCRIPTION_LONG, limit=DESCRIPTION_MAX)
    checked: list[CheckedMedia] = []
    try:
        checked = media_validate(evidence, purpose=ReportMedia.Purpose.EVIDENCE, field="evidence")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    lead_errors: dict[str, Any] = {}  # only the lead unit's answer needs these
    if resolution not in Report.Resolution.values:
        lead_errors["resolution"] = MSG_RESOLUTION
    elif (
        resolution == Report.Resolution.FIXED
        and not any(c.kind == ReportMedia.Kind.PHOTO for c in checked)
        and "evidence" not in errors
    ):
        lead_errors["evidence"] = MSG_EVIDENCE
    stored: list[str] = []

    def work() -> Report:
        locked = _locked(report)
        if _is_lead_actor(user, locked, agency):
            transition = transition_check(locked, "answer")
            if errors or lead_errors:
                raise ValidationFailed(fields={**errors, **lead_errors})
            previous = locked.status
            locked.status = str(transition.target)
            locked.answer = body
            locked.resolution = resolution
            locked.answered_at = moment
            if locked.resolved_on_time is None:
                locked.resolved_on_time = moment <= locked.resolve_due
            locked.updated_at = moment
            locked.save(
                update_fields=[
                    "status",
                    "answer",
                    "resolution",
                    "answered_at",
                    "resolved_on_time",
                    "updated_at",
                ]
            )
            lead = _lead(locked)
            if lead is not None:
                lead.state = Assignment.State.ANSWERED
                lead.answered_at = moment
                lead.save(update_fields=["state", "answered_at"])
            # The supporting parts still open end with the answer: a contribution is taken only
            # while the report is being handled, so they could never be finished (and their
            # clocks would keep alerting the leaders).
            Assignment.objects.filter(
                report=locked, role=Assignment.Role.SUPPORT, state__in=OPEN_ASSIGNMENT
            ).update(state=Assignment.State.CLOSED, ended_at=moment)
            event = _event(
                locked,
                actor=user,
                action="answer",
                at=moment,
                from_status=previous,
                to_status=locked.status,
                note=body,
                data={
                    "resolution": resolution,
                    "on_time": bool(locked.resolved_on_time),
                    "files": len(checked),
                },
            )
            rows = media_write(
                report=locked,
                checked=checked,
                stored=stored,
                purpose=ReportMedia.Purpose.EVIDENCE,
                uploaded_by=user,
                event=event,
            )
            ReportMedia.objects.bulk_create(rows)
            _notify_followers(locked, actor=user, note=body[:500])
            return _refresh(report, locked)
        if locked.status not in OPEN_STATUSES:
            transition_check(locked, "answer")
        part = _support_assignment(user, locked, agency, [Assignment.State.ACCEPTED])
        if part is None:
            if _support_assignment(user, locked, agency, [Assignment.State.PENDING]):
                raise InvalidTransition(MSG_NO_ASSIGNMENT)
            raise PermissionDenied(MSG_NOT_HANDLER)
        if errors:
            raise ValidationFailed(fields=errors)
        part.state = Assignment.State.ANSWERED
        part.answered_at = moment
        part.note = body
        part.save(update_fields=["state", "answered_at", "note"])
        event = _event(
            locked,
            actor=user,
            action="contribution",
            at=moment,
            agency=part.agency,
            note=body,
            public=False,
            data={"assignment": part.pk, "files": len(checked)},
        )
        rows = media_write(
            report=locked,
            checked=checked,
            stored=stored,
            purpose=ReportMedia.Purpose.EVIDENCE,
            uploaded_by=user,
            event=event,
        )
        ReportMedia.objects.bulk_create(rows)
        return _refresh(report, locked)

    return _run_with_files(stored, work)  # type: ignore[no-any-return]


# --- the resident's answer ------------------------------------------------------------------


@transaction.atomic
def report_rate(
    *,
    user: Any,
    report: Report,
    rating: int,
    comment: str = "",
    satisfied: bool | None = None,
    now: datetime | None = None,
) -> Report:
    """The reporter rates the answer once per level; satisfied (by default a score of 3 or
    more) closes the report, unsatisfied leaves it answered so it can be reopened."""
    moment = _now(now)
    locked = _locked(report)
    _require_reporter(user, locked)
    transition_check(locked, "rate")
    if locked.rated_at is not None:
        raise InvalidTransition(MSG_RATED)
    try:
        score = int(rating)
    except (TypeError, ValueError):
        raise ValidationFailed(fields={"rating": MSG_RATING}) from None
    if isinstance(rating, bool) or score != rating or not 1 <= score <= 5:
        raise ValidationFailed(fields={"rating": MSG_RATING})
    text = _clean(comment)
    if len(text) > DESCRIPTION_MAX:
        raise ValidationFailed(
            fields={"comment": format_lazy(MSG_DESCRIPTION_LONG, limit=DESCRIPTION_MAX)}
        )
    happy = score >= 3 if satisfied is None else bool(satisfied)
    previous = locked.status
    locked.rating = score
    locked.satisfied = happy
    locked.rating_comment = text
    locked.rated_at = moment
    locked.updated_at = moment
    fields = ["rating", "satisfied", "rating_comment", "rated_at", "updated_at"]
    if happy:
        locked.status = ReportStatus.CLOSED
        locked.closed_at = moment
        fields += ["status", "closed_at"]
        Assignment.objects.filter(
            report=locked, state__in=[*OPEN_ASSIGNMENT, Assignment.State.ANSWERED]
        ).update(state=Assignment.State.CLOSED, ended_at=moment)
    locked.save(update_fields=fields)
    _event(
        locked,
        actor=user,
        action="rate",
        at=moment,
        from_status=previous,
        to_status=locked.status,
        note=text,
        data={"rating": score, "satisfied": happy, "level": locked.level},
    )
    if happy:
        _notify_followers(locked, actor=user)
    return _refresh(report, locked)


@transaction.atomic
def report_reopen(*, user: Any, report: Report, reason: str, now: datetime | None = None) -> Report:
    """The unsatisfied reporter reopens the report once: it goes up one level (ward →
    department or city, department → city) with new clocks, and that unit's leaders hear."""
    moment = _now(now)
    locked = _locked(report)
    _require_reporter(user, locked)
    transition = transition_check(locked, "reopen")
    if locked.level >= 1:
        raise InvalidTransition(MSG_REOPEN_ONCE)
    if locked.rated_at is None or locked.satisfied is not False:
        raise InvalidTransition(MSG_REOPEN_SATISFIED)
    text = _clean(reason)
    if not text:
        raise ValidationFailed(fields={"reason": MSG_REASON})
    if len(text) > DESCRIPTION_MAX:
        raise ValidationFailed(
            fields={"reason": format_lazy(MSG_DESCRIPTION_LONG, limit=DESCRIPTION_MAX)}
        )
    target = _escalation_target(locked)
    previous_agency, previous_status = locked.agency, locked.status
    Assignment.objects.filter(
        report=locked, role=Assignment.Role.LEAD, state__in=[*OPEN_ASSIGNMENT, "answered"]
    ).update(state=Assignment.State.ESCALATED, ended_at=moment)
    Assignment.objects.filter(
        report=locked, role=Assignment.Role.SUPPORT, state__in=OPEN_ASSIGNMENT
    ).update(state=Assignment.State.CLOSED, ended_at=moment)
    urgent = locked.urgency == Urgency.URGENT
    accept_due = accept_due_from(moment, urgent=urgent)
    resolve_due = (
        accept_due
        if urgent
        else resolve_due_from(moment, category=locked.category, urgency=locked.urgency)
    )
    Assignment.objects.create(
        report=locked,
        agency=target,
        role=Assignment.Role.LEAD,
        state=Assignment.State.PENDING,
        created_at=moment,
        accept_due=accept_due,
        resolve_due=resolve_due,
        note=text,
    )
    data = {
        "rating": locked.rating,
        "satisfied": locked.satisfied,
        "rating_comment": locked.rating_comment,
        "rated_at": locked.rated_at.isoformat() if locked.rated_at else None,
        "answer": locked.answer,
        "resolution": locked.resolution,
        "accepted_on_time": locked.accepted_on_time,
        "resolved_on_time": locked.resolved_on_time,
        "from_agency": previous_agency.pk,
        "to_agency": target.pk,
        "level": 1,
    }
    locked.level = 1
    locked.status = str(transition.target)
    locked.agency = target
    locked.reopened_at = moment
    locked.accept_due, locked.resolve_due = accept_due, resolve_due
    locked.accepted_at = locked.answered_at = None
    locked.accepted_on_time = locked.resolved_on_time = None
    locked.rating = None
    locked.satisfied = None
    locked.rating_comment = ""
    locked.rated_at = None
    locked.answer = ""
    locked.resolution = ""
    locked.updated_at = moment
    locked.save()
    _event(
        locked,
        actor=user,
        action="reopen",
        at=moment,
        from_status=previous_status,
        to_status=locked.status,
        agency=target,
        note=text,
        data=data,
    )
    with translation.override(LANG):
        category = str(locked.category)
    for leader in _leaders(target):
        _notify(
            leader,
            T_REOPENED,
            B_REOPENED,
            url=report_official_url(locked),
            id=locked.pk,
            category=category,
            previous=previous_agency.name,
            reason=text,
        )
    _notify_followers(locked, actor=user)
    return _refresh(report, locked)


# --- follows, flags, personal data ----------------------------------------------------------


def _visible_to(user: Any, report: Report) -> bool:
    return report.visibility == Visibility.PUBLIC or (
        _user(user) is not None and report.reporter_id == user.pk
    )


@transaction.atomic
def report_follow(*, user: Any, report: Report, now: datetime | None = None) -> Follow:
    """Follow a report's progress (idempotent)."""
    if _user(user) is None:
        raise PermissionDenied(MSG_SIGN_IN, code="authentication_required")
    locked = _locked(report)
    if not _visible_to(user, locked):
        raise NotFound(MSG_HIDDEN)
    follow, created = Follow.objects.get_or_create(
        report=locked, user=user, defaults={"created_at": _now(now)}
    )
    if created:
        Report.objects.filter(pk=locked.pk).update(follower_count=F("follower_count") + 1)
        report.follower_count = locked.follower_count + 1
    return follow


@transaction.atomic
def report_unfollow(*, user: Any, report: Report) -> None:
    """Stop following (idempotent)."""
    if _user(user) is None:
        raise PermissionDenied(MSG_SIGN_IN, code="authentication_required")
    locked = _locked(report)
    deleted, _rows = Follow.objects.filter(report=locked, user=user).delete()
    if deleted:
        count = Follow.objects.filter(report=locked).count()
        Report.objects.filter(pk=locked.pk).update(follower_count=count)
        report.follower_count = count


@transaction.atomic
def report_flag(
    *, user: Any, report: Report, reason: str, comment: str = "", now: datetime | None = None
) -> Flag:
    """A resident flags a report's content; enough open flags hide it pending review."""
    moment = _now(now)
    if _user(user) is None:
        raise PermissionDenied(MSG_SIGN_IN, code="authentication_required")
    _require_not_banned(user, moment)
    locked = _locked(report)
    if locked.visibility == Visibility.HIDDEN:
        raise NotFound(MSG_HIDDEN)
    if locked.reporter_id == user.pk:
        raise PermissionDenied(MSG_OWN_FLAG)
    if reason not in Flag.Reason.values:
        raise ValidationFailed(fields={"reason": MSG_FLAG_REASON})
    text = _clean(comment)
    if len(text) > 500:
        raise ValidationFailed(fields={"comment": MSG_COMMENT_LONG})
    if Flag.objects.filter(report=locked, user=user).exists():
        raise ValidationFailed(fields={"reason": MSG_FLAGGED}, code="already_flagged")
    try:
        with transaction.atomic():
            flag = Flag.objects.create(
                report=locked, user=user, reason=reason, comment=text, created_at=moment
            )
    except IntegrityError:
        raise ValidationFailed(fields={"reason": MSG_FLAGGED}, code="already_flagged") from None
    open_flags = Flag.objects.filter(report=locked, reviewed_at__isnull=True).count()
    locked.flag_count = open_flags
    fields = ["flag_count"]
    limit = int(_setting("FEEDBACK_FLAGS_TO_HIDE", 3))
    if open_flags >= limit and locked.visibility == Visibility.PUBLIC:
        locked.visibility = Visibility.FLAGGED
        fields.append("visibility")
        _event(
            locked,
            actor=None,
            action="flagged",
            at=moment,
            public=False,
            data={"flags": open_flags},
        )
    locked.save(update_fields=fields)
    audit_record(
        actor=user,
        action="feedback.flag",
        obj=locked,
        data={"reason": reason, "flags": open_flags},
    )
    _refresh(report, locked)
    return flag


@transaction.atomic
def report_personal_data_remove(
    *, user: Any, report: Report, now: datetime | None = None
) -> Report:
    """The reporter removes their personal data from the report; its content stays (ADR)."""
    moment = _now(now)
    locked = _locked(report)
    _require_reporter(user, locked)
    removed_follows, _rows = Follow.objects.filter(report=locked, user=user).delete()
    ReportMedia.objects.filter(report=locked, uploaded_by=user).update(uploaded_by=None)
    locked.reporter = None
    locked.reporter_name = locked.reporter_email = locked.reporter_phone = ""
    locked.device_id = ""
    locked.show_name = False
    locked.personal_data_removed_at = moment
    locked.follower_count = Follow.objects.filter(report=locked).count()
    locked.updated_at = moment
    locked.save()
    _event(
        locked,
        actor=user,
        action="personal_data_removed",
        at=moment,
        public=False,
        data={"follows_removed": removed_follows},
    )
    # The timeline no longer names the account either (the audit trail keeps who acted).
    ReportEvent.objects.filter(report=locked, actor=user).update(actor=None)
    return _refresh(report, locked)


# --- moderation -----------------------------------------------------------------------------


def _moderation(
    *,
    moderator: Any,
    action: str,
    reason: str,
    report: Report | None = None,
    target_user: Any = None,
    data: dict[str, Any] | None = None,
    now: datetime,
) -> ModerationAction:
    act = ModerationAction.objects.create(
        report=report,
        target_user=target_user,
        moderator=moderator,
        action=action,
        reason=reason,
        data=data or {},
        created_at=now,
    )
    audit_record(
        actor=moderator,
        action=f"feedback.moderation.{action}",
        obj=report if report is not None else target_user,
        data={"moderation": act.pk, "reason": reason[:500]},
    )
    return act


def _reason(reason: str) -> str:
    text = _clean(reason)
    if not text:
        raise ValidationFailed(fields={"reason": MSG_REASON})
    return text


@transaction.atomic
def moderation_hide(
    *, moderator: Any, report: Report, reason: str, now: datetime | None = None
) -> ModerationAction:
    """Hide a report from the public."""
    moment = _now(now)
    _require_moderator(moderator)
    text = _reason(reason)
    locked = _locked(report)
    before = locked.visibility
    locked.visibility = Visibility.HIDDEN
    locked.save(update_fields=["visibility"])
    _refresh(report, locked)
    return _moderation(
        moderator=moderator,
        action=ModerationAction.Action.HIDE,
        reason=text,
        report=locked,
        data={"before": before},
        now=moment,
    )


def _flags_review(report: Report, moment: datetime) -> int:
    reviewed = Flag.objects.filter(report=report, reviewed_at__isnull=True).update(
        reviewed_at=moment
    )
    report.flag_count = 0
    return reviewed


def _flags_settle(
    *, moderator: Any, report: Report, reason: str, action: str, publish: bool, now: datetime | None
) -> ModerationAction:
    """Mark the open flags reviewed; publish the report again (`publish`) or only when the
    flags alone hid it."""
    moment = _now(now)
    _require_moderator(moderator)
    text = _reason(reason)
    locked = _locked(report)
    before = locked.visibility
    reviewed = _flags_review(locked, moment)
    if publish or locked.visibility == Visibility.FLAGGED:
        locked.visibility = Visibility.PUBLIC
    locked.save(update_fields=["visibility", "flag_count"])
    _refresh(report, locked)
    return _moderation(
        moderator=moderator,
        action=action,
        reason=text,
        report=locked,
        data={"before": before, "flags_reviewed": reviewed},
        now=moment,
    )


@transaction.atomic
def moderation_show(
    *, moderator: Any, report: Report, reason: str, now: datetime | None = None
) -> ModerationAction:
    """Publish a hidden or flagged report again; its open flags count as reviewed."""
    return _flags_settle(
        moderator=moderator,
        report=report,
        reason=reason,
        action=ModerationAction.Action.SHOW,
        publish=True,
        now=now,
    )


@transaction.atomic
def moderation_dismiss_flags(
    *, moderator: Any, report: Report, reason: str, now: datetime | None = None
) -> ModerationAction:
    """The flags are unfounded: mark them reviewed; a report hidden by flags is public again
    (one hidden by a moderator stays hidden)."""
    return _flags_settle(
        moderator=moderator,
        report=report,
        reason=reason,
        action=ModerationAction.Action.DISMISS_FLAGS,
        publish=False,
        now=now,
    )


@transaction.atomic
def moderation_redact_text(
    *, moderator: Any, report: Report, text: str, reason: str, now: datetime | None = None
) -> ModerationAction:
    """Replace the description; the original is kept in the action's data."""
    moment = _now(now)
    _require_moderator(moderator)
    why = _reason(reason)
    new_text = _description_check(text)
    locked = _locked(report)
    before = locked.description
    locked.description = new_text
    locked.updated_at = moment
    locked.save(update_fields=["description", "updated_at"])
    _refresh(report, locked)
    return _moderation(
        moderator=moderator,
        action=ModerationAction.Action.REDACT_TEXT,
        reason=why,
        report=locked,
        data={"before": before},
        now=moment,
    )


def moderation_redact_photo(
    *,
    moderator: Any,
    media: ReportMedia,
    boxes: list[tuple[int, int, int, int]],
    reason: str,
    now: datetime | None = None,
) -> ModerationAction:
    """Black out areas of a photo (faces, plates); the original file is deleted after commit
    (the history keeps the boxes, not the pixels)."""
    from django.core.files.base import ContentFile

    moment = _now(now)
    _require_moderator(moderator)
    why = _reason(reason)
    if media.kind != ReportMedia.Kind.PHOTO:
        raise ValidationFailed(fields={"media": MSG_NOT_PHOTO})
    try:
        with media.file.open("rb") as handle:
            original = handle.read()
    except OSError:
        raise NotFound() from None
    try:
        content, width, height, kind = redact(original, boxes)
    except MediaRefused as exc:
        raise ValidationFailed(fields={"boxes": exc.message}) from None
    clean_boxes = [[int(v) for v in box] for box in boxes]
    stored: list[str] = []

    def work() -> ModerationAction:
        row = ReportMedia.objects.select_for_update().get(pk=media.pk)
        old_name = row.file.name
        from .media import EXTENSIONS

        row.file.save(f"photo.{EXTENSIONS[kind]}", ContentFile(content), save=False)
        stored.append(row.file.name)
        row.size = len(content)
        row.width, row.height = width, height
        row.redacted = True
        row.save(update_fields=["file", "size", "width", "height", "redacted"])
        transaction.on_commit(lambda: media_delete([old_name]))
        media.file.name, media.size, media.redacted = row.file.name, row.size, True
        media.width, media.height = width, height
        report = Report.objects.get(pk=row.report_id)
        return _moderation(
            moderator=moderator,
            action=ModerationAction.Action.REDACT_PHOTO,
            reason=why,
            report=report,
            data={"media": row.pk, "boxes": clean_boxes},
            now=moment,
        )

    return _run_with_files(stored, work)  # type: ignore[no-any-return]


@transaction.atomic
def moderation_ban(
    *,
    moderator: Any,
    user: Any,
    reason: str,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Ban:
    """Stop an account from reporting and flagging until `until` (None: until lifted)."""
    moment = _now(now)
    _require_moderator(moderator)
    why = _reason(reason)
    if user is None or user.pk == moderator.pk:
        raise ValidationFailed(fields={"user": MSG_BAN_SELF})
    if until is not None and (timezone.is_naive(until) or until <= moment):
        raise ValidationFailed(fields={"until": MSG_BAN_UNTIL})
    ban = Ban.objects.create(
        user=user, reason=why, until=until, created_by=moderator, created_at=moment
    )
    _moderation(
        moderator=moderator,
        action=ModerationAction.Action.BAN,
        reason=why,
        target_user=user,
        data={"ban": ban.pk, "until": until.isoformat() if until else None},
        now=moment,
    )
    return ban


@transaction.atomic
def moderation_unban(
    *, moderator: Any, user: Any, reason: str, now: datetime | None = None
) -> ModerationAction:
    """Lift the account's bans."""
    moment = _now(now)
    _require_moderator(moderator)
    why = _reason(reason)
    active = Ban.objects.filter(user=user, lifted_at__isnull=True).filter(
        Q(until__isnull=True) | Q(until__gt=moment)
    )
    ids = list(active.values_list("pk", flat=True))
    if not ids:
        raise InvalidTransition(MSG_NOT_BANNED)
    Ban.objects.filter(pk__in=ids).update(lifted_at=moment)
    return _moderation(
        moderator=moderator,
        action=ModerationAction.Action.UNBAN,
        reason=why,
        target_user=user,
        data={"bans": ids},
        now=moment,
    )


# --- periodic jobs ---------------------------------------------------------------------------


def reports_breaches_escalate(*, now: datetime | None = None) -> int:
    """Tell the leaders of each unit whose part is past its accept or resolve deadline, once
    (escalated_at). Returns how many parts were escalated. Idempotent."""
    moment = _now(now)
    breached = Q(state=Assignment.State.PENDING, accept_due__lt=moment) | Q(
        state=Assignment.State.ACCEPTED, resolve_due__lt=moment
    )
    ids = list(
        Assignment.objects.filter(breached, escalated_at__isnull=True)
        .order_by("accept_due", "pk")
        .values_list("pk", flat=True)
    )
    count = 0
    for pk in ids:
        with transaction.atomic():
            part = (
                Assignment.objects.select_for_update(of=("self",))
                .select_related("report", "report__category", "agency", "agency__parent")
                .filter(pk=pk, escalated_at__isnull=True)
                .filter(breached)
                .first()
            )
            if part is None:
                continue
            part.escalated_at = moment
            part.save(update_fields=["escalated_at"])
            report = part.report
            accept_phase = part.state == Assignment.State.PENDING
            due = part.accept_due if accept_phase else part.resolve_due
            leaders = _leaders(part.agency)
            _event(
                report,
                actor=None,
                action="breach",
                at=moment,
                agency=part.agency,
                public=False,
                data={
                    "assignment": part.pk,
                    "clock": "accept" if accept_phase else "resolve",
                    "due": due.isoformat(),
                    "leaders": [u.pk for u in leaders],
                },
            )
            with translation.override(LANG):
                category = str(report.category)
            for leader in leaders:
                _notify(
                    leader,
                    T_BREACH,
                    B_BREACH_ACCEPT if accept_phase else B_BREACH_RESOLVE,
                    url=report_official_url(report),
                    id=report.pk,
                    category=category,
                    due=_moment_text(due),
                    agency=part.agency.name,
                )
            count += 1
    return count


def reports_auto_close(*, now: datetime | None = None) -> int:
    """Close answered reports the reporter did not rate (or rated unsatisfied and did not
    reopen) within FEEDBACK_AUTO_CLOSE_DAYS working days. Returns how many were closed."""
    moment = _now(now)
    days = int(_setting("FEEDBACK_AUTO_CLOSE_DAYS", 7))
    calendar = _calendar()
    # n working days always span at least n calendar days: a cheap prefilter.
    candidates = Report.objects.filter(
        status=ReportStatus.ANSWERED, answered_at__lte=moment - timedelta(days=days)
    ).values_list("pk", "answered_at", "rated_at")
    count = 0
    for pk, answered_at, rated_at in candidates.iterator():
        start = rated_at or answered_at
        if start is None or calendar.add_working_days(start, days) > moment:
            continue
        with transaction.atomic():
            report = (
                Report.objects.select_for_update(of=("self",))
                .select_related("category", "agency")
                .filter(pk=pk, status=ReportStatus.ANSWERED)
                .first()
            )
            if report is None:
                continue
            transition_check(report, "close")
            report.status = ReportStatus.CLOSED
            report.closed_at = moment
            report.updated_at = moment
            report.save(update_fields=["status", "closed_at", "updated_at"])
            Assignment.objects.filter(
                report=report, state__in=[*OPEN_ASSIGNMENT, Assignment.State.ANSWERED]
            ).update(state=Assignment.State.CLOSED, ended_at=moment)
            _event(
                report,
                actor=None,
                action="close",
                at=moment,
                from_status=ReportStatus.ANSWERED,
                to_status=ReportStatus.CLOSED,
                data={"automatic": True, "days": days},
            )
            _notify_followers(report, actor=None)
            count += 1
    return count
