"""Service alerts (GTFS-realtime Alert): the operator writes them in Vietnamese and, optionally,
English; riders' pages and stop panels show the ones in force; the ServiceAlerts feed
(feeds.build_service_alerts) publishes them and the ones announced for later.

Writes are services (keyword-only, atomic, an audit row each): `alert_create`, `alert_update`,
`alert_end`. Each checks every value and reports every problem at once (ValidationFailed naming
the field): routes and stops must exist in the active timetable, the period must end after it
starts and not already be over. A person acting needs Perm.TRANSIT_OPERATE; `actor=None` is
the system (demo data, commands). Reads: `active_alerts` (in force now, optionally for some
routes or stops), `published_alerts` (in force or announced), `alert_state`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.audit import audit_record
from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed

from .models import Feed, Route, ServiceAlert, Stop

HEADER_MAX = 200  # ServiceAlert.header max_length
DESCRIPTION_MAX = 4000
URL_MAX = 200
IDS_MAX = 200  # routes or stops one alert may name

EDITABLE = frozenset(
    {
        "header",
        "header_en",
        "description",
        "description_en",
        "url",
        "cause",
        "effect",
        "severity",
        "route_ids",
        "stop_ids",
        "active_from",
        "active_until",
    }
)

MSG_NOT_ALLOWED = _("You are not allowed to manage service alerts.")
MSG_REQUIRED = _("This field is required.")
MSG_TOO_LONG = _("At most %(max)s characters.")
MSG_URL = _("Enter a web address starting with http:// or https://.")
MSG_CHOICE = _("Choose one of the listed values.")
MSG_IDS = _("Give a list of ids.")
MSG_TOO_MANY = _("At most %(max)s ids.")
MSG_NO_FEED = _("There is no active timetable to check the ids against; import one first.")
MSG_UNKNOWN_ROUTES = _("Not a route of the active timetable: %(ids)s.")
MSG_UNKNOWN_STOPS = _("Not a stop of the active timetable: %(ids)s.")
MSG_DATETIME = _("Enter a date and time with its time zone.")
MSG_UNTIL_ORDER = _("The end must be later than the start.")
MSG_UNTIL_PAST = _("The end must be in the future.")
MSG_NOT_EDITABLE = _("This field cannot be changed.")
MSG_ENDED = _("This alert has ended and can no longer be changed.")


def _fmt(message: Promise, **values: Any) -> Promise:
    """A translated message with %(name)s values filled in, rendered lazily (in the language
    active when the error is shown)."""
    return cast(Promise, lazy(lambda: str(message) % values, str)())


# --- Checks ----------------------------------------------------------------------------------


def _check_actor(actor: Any) -> None:
    if actor is None or isinstance(actor, str):
        return  # the system: demo data, commands
    if not can(actor, Perm.TRANSIT_OPERATE):
        raise PermissionDenied(MSG_NOT_ALLOWED)


def _text(
    value: Any, name: str, limit: int, errors: dict[str, Any], *, required: bool = False
) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        errors[name] = MSG_REQUIRED
    elif len(text) > limit:
        errors[name] = _fmt(MSG_TOO_LONG, max=limit)
    return text


def _choice(value: Any, name: str, choices: Iterable[str], errors: dict[str, Any]) -> str:
    text = str(value or "").strip().upper()
    if text not in set(choices):
        errors[name] = MSG_CHOICE
    return text


def _ids(value: Any, name: str, errors: dict[str, Any]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    if not isinstance(value, list | tuple | set | frozenset):
        errors[name] = MSG_IDS
        return []
    out: list[str] = []
    for item in value:
        if not isinstance(item, str | int):
            errors[name] = MSG_IDS
            return []
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    if len(out) > IDS_MAX:
        errors[name] = _fmt(MSG_TOO_MANY, max=IDS_MAX)
    return out


def _known_ids(route_ids: list[str], stop_ids: list[str], errors: dict[str, Any]) -> None:
    """Route and stop ids must name rows of the active feed."""
    if not route_ids and not stop_ids:
        return
    feed = Feed.objects.filter(status=Feed.Status.ACTIVE).first()
    if feed is None:
        errors["route_ids" if route_ids else "stop_ids"] = MSG_NO_FEED
        return
    if route_ids and "route_ids" not in errors:
        found = set(
            Route.objects.filter(feed=feed, route_id__in=route_ids).values_list(
                "route_id", flat=True
            )
        )
        unknown = [r for r in route_ids if r not in found]
        if unknown:
            errors["route_ids"] = _fmt(MSG_UNKNOWN_ROUTES, ids=", ".join(unknown))
    if stop_ids and "stop_ids" not in errors:
        found = set(
            Stop.objects.filter(feed=feed, stop_id__in=stop_ids).values_list("stop_id", flat=True)
        )
        unknown = [s for s in stop_ids if s not in found]
        if unknown:
            errors["stop_ids"] = _fmt(MSG_UNKNOWN_STOPS, ids=", ".join(unknown))


def _when(value: Any, name: str, errors: dict[str, Any]) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        errors[name] = MSG_DATETIME
        return None
    return value


def _clean(
    data: Mapping[str, Any], *, now: datetime, check_ids: bool, check_until: bool
) -> dict[str, Any]:
    """Every value of an alert checked; ValidationFailed listing every bad field."""
    errors: dict[str, Any] = {}
    out: dict[str, Any] = {
        "header": _text(data.get("header"), "header", HEADER_MAX, errors, required=True),
        "header_en": _text(data.get("header_en"), "header_en", HEADER_MAX, errors),
        "description": _text(data.get("description"), "description", DESCRIPTION_MAX, errors),
        "description_en": _text(
            data.get("description_en"), "description_en", DESCRIPTION_MAX, errors
        ),
        "url": _text(data.get("url"), "url", URL_MAX, errors),
        "cause": _choice(data.get("cause"), "cause", ServiceAlert.Cause.values, errors),
        "effect": _choice(data.get("effect"), "effect", ServiceAlert.Effect.values, errors),
        "severity": _choice(data.get("severity"), "severity", ServiceAlert.Severity.values, errors),
        "route_ids": _ids(data.get("route_ids"), "route_ids", errors),
        "stop_ids": _ids(data.get("stop_ids"), "stop_ids", errors),
    }
    if out["url"] and "url" not in errors:
        try:
            URLValidator(schemes=["http", "https"])(out["url"])
        except DjangoValidationError:
            errors["url"] = MSG_URL
    if check_ids:
        _known_ids(out["route_ids"], out["stop_ids"], errors)
    active_from = _when(data.get("active_from"), "active_from", errors) or now
    active_until = _when(data.get("active_until"), "active_until", errors)
    if active_until is not None and "active_from" not in errors:
        if active_until <= active_from:
            errors["active_until"] = MSG_UNTIL_ORDER
        elif check_until and active_until <= now:
            errors["active_until"] = MSG_UNTIL_PAST
    out["active_from"], out["active_until"] = active_from, active_until
    if errors:
        raise ValidationFailed(fields=errors)
    return out


# --- Services --------------------------------------------------------------------------------


def alert_state(alert: ServiceAlert, now: datetime | None = None) -> str:
    """ "ended" (by the operator), "expired" (its period is over), "scheduled" (announced, not
    yet in force) or "active"."""
    now = now or timezone.now()
    if alert.ended_at is not None:
        return "ended"
    if alert.active_until is not None and alert.active_until <= now:
        return "expired"
    if alert.active_from > now:
        return "scheduled"
    return "active"


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def alert_create(
    *,
    actor: Any,
    header: str,
    header_en: str = "",
    description: str = "",
    description_en: str = "",
    url: str = "",
    cause: str,
    effect: str,
    severity: str,
    route_ids: Iterable[str] = (),
    stop_ids: Iterable[str] = (),
    active_from: datetime | None = None,
    active_until: datetime | None = None,
) -> ServiceAlert:
    """A new service alert (in force from `active_from`, default now, until `active_until` or
    until it is ended). Route and stop ids must exist in the active timetable; naming none
    makes the alert network-wide."""
    _check_actor(actor)
    now = timezone.now()
    values = _clean(
        {
            "header": header,
            "header_en": header_en,
            "description": description,
            "description_en": description_en,
            "url": url,
            "cause": cause,
            "effect": effect,
            "severity": severity,
            "route_ids": list(route_ids) if not isinstance(route_ids, str) else route_ids,
            "stop_ids": list(stop_ids) if not isinstance(stop_ids, str) else stop_ids,
            "active_from": active_from,
            "active_until": active_until,
        },
        now=now,
        check_ids=True,
        check_until=True,
    )
    alert = ServiceAlert.objects.create(
        **values, created_by=_user(actor), created_at=now, updated_at=now
    )
    audit_record(
        actor=actor,
        action="transit.alert.create",
        obj=alert,
        to_state=alert_state(alert, now),
        data={
            "route_ids": values["route_ids"],
            "stop_ids": values["stop_ids"],
            "effect": values["effect"],
            "severity": values["severity"],
        },
    )
    return alert


def _current(alert: ServiceAlert) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in EDITABLE}


@transaction.atomic
def alert_update(*, actor: Any, alert: ServiceAlert, **fields: Any) -> ServiceAlert:
    """Change some of an alert's values (the names alert_create takes). Route and stop ids are
    checked against the active timetable when they are given; an ended alert cannot change."""
    _check_actor(actor)
    unknown = sorted(set(fields) - EDITABLE)
    if unknown:
        raise ValidationFailed(fields={name: MSG_NOT_EDITABLE for name in unknown})
    alert = ServiceAlert.objects.select_for_update().get(pk=alert.pk)
    now = timezone.now()
    if alert.ended_at is not None:
        raise InvalidTransition(MSG_ENDED)
    before = _current(alert)
    merged = {**before, **fields}
    for key in ("route_ids", "stop_ids"):
        if key in fields and isinstance(fields[key], Iterable) and not isinstance(fields[key], str):
            merged[key] = list(fields[key])
    values = _clean(
        merged,
        now=now,
        check_ids="route_ids" in fields or "stop_ids" in fields,
        check_until="active_until" in fields,
    )
    changed = sorted(k for k in EDITABLE if values[k] != before[k])
    if not changed:
        return alert
    from_state = alert_state(alert, now)
    for key in changed:
        setattr(alert, key, values[key])
    alert.updated_at = now
    alert.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action="transit.alert.update",
        obj=alert,
        from_state=from_state,
        to_state=alert_state(alert, now),
        data={"changed": changed},
    )
    return alert


@transaction.atomic
def alert_end(*, actor: Any, alert: ServiceAlert) -> ServiceAlert:
    """End an alert now: it leaves the feed and the riders' pages at once."""
    _check_actor(actor)
    alert = ServiceAlert.objects.select_for_update().get(pk=alert.pk)
    now = timezone.now()
    if alert.ended_at is not None:
        raise InvalidTransition(MSG_ENDED)
    from_state = alert_state(alert, now)
    alert.ended_at = now
    if alert.active_from <= now and (alert.active_until is None or alert.active_until > now):
        alert.active_until = now
    alert.updated_at = now
    alert.save(update_fields=["ended_at", "active_until", "updated_at"])
    audit_record(
        actor=actor, action="transit.alert.end", obj=alert, from_state=from_state, to_state="ended"
    )
    return alert


# --- Reads -----------------------------------------------------------------------------------


def _not_over(now: datetime) -> Q:
    return Q(ended_at__isnull=True) & (Q(active_until__isnull=True) | Q(active_until__gt=now))


def published_alerts(*, now: datetime | None = None) -> list[ServiceAlert]:
    """Alerts in force now or announced for later (the ServiceAlerts feed)."""
    now = now or timezone.now()
    return list(ServiceAlert.objects.filter(_not_over(now)).order_by("active_from", "pk"))


def active_alerts(
    *,
    now: datetime | None = None,
    route_ids: Iterable[str] | None = None,
    stop_ids: Iterable[str] | None = None,
) -> list[ServiceAlert]:
    """Alerts in force at `now`, most severe first, then newest. With `route_ids` and/or
    `stop_ids`: those that name one of them, and the network-wide ones (naming neither)."""
    now = now or timezone.now()
    alerts = list(ServiceAlert.objects.filter(_not_over(now), active_from__lte=now))
    if route_ids is not None or stop_ids is not None:
        routes, stops = set(route_ids or ()), set(stop_ids or ())
        alerts = [
            a
            for a in alerts
            if (not a.route_ids and not a.stop_ids)
            or routes.intersection(a.route_ids)
            or stops.intersection(a.stop_ids)
        ]
    rank = {"SEVERE": 0, "WARNING": 1, "INFO": 2}
    alerts.sort(key=lambda a: (a.active_from, a.pk), reverse=True)
    alerts.sort(key=lambda a: rank.get(a.severity, 3))
    return alerts
