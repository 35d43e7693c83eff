"""The service index (Decision 766/QĐ-TTg): what the city, an agency or a ward did for its
citizens and businesses over a period.

Every figure comes from one aggregate query over `Dossier` (conditional counts and sums, LEFT
JOIN of the rating); rows per agency or ward are the same query grouped, rolled up to the
agencies asked for in Python over the grouped rows (a few hundred at most), never per dossier.

Definitions (period = the local dates ``start``..``end`` inclusive, Asia/Ho_Chi_Minh):

- received: dossiers submitted in the period (online or at the counter, by channel);
- settled: dossiers settled in the period, on time or late (`Dossier.on_time`);
- in progress: dossiers submitted and not yet settled at the end of the period (or now, when the
  period has not ended); overdue: those of them whose legal deadline had passed by then (a dossier
  whose clock is paused has no deadline, so it is not counted overdue);
- on-time rate = settled on time / settled; online rate = received online / received;
  digitisation rate = received with papers and result stored digitally / received. Rates are
  percentages (0–100), None when nothing was settled or received;
- average processing time: calendar days from "counts as received" to settlement, over the
  dossiers settled in the period;
- satisfaction 0–100: ((mean rating − 1) / 4) × 100 over the ratings given in the period, a
  rating's score being the mean of its four criteria (1 to 5).

A dossier belongs to the agency that holds it (`Dossier.agency`, the competent agency) and to the
ward of its receiving unit (`Dossier.unit`); an agency's figures include its sub-agencies'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import get_language

from thudo.accounts.models import Agency
from thudo.core.models import AdminUnit

from .models import OPEN_STATUSES, Dossier, Status

GROUPS = ("agency", "unit")


@dataclass
class IndexFigures:
    received: int = 0
    received_online: int = 0
    received_counter: int = 0
    digitised: int = 0
    settled: int = 0
    settled_on_time: int = 0
    settled_late: int = 0
    in_progress: int = 0
    overdue: int = 0
    ratings: int = 0
    on_time_rate: float | None = None
    online_rate: float | None = None
    digitisation_rate: float | None = None
    avg_processing_days: float | None = None
    satisfaction: float | None = None
    # Raw sums behind the averages, so figures can be added up (roll-ups, city totals).
    processing_seconds: float = field(default=0.0, repr=False)
    processed: int = field(default=0, repr=False)
    rating_points: int = field(default=0, repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for private in ("processing_seconds", "processed", "rating_points"):
            data.pop(private)
        return data

    def add(self, other: IndexFigures) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def finish(self) -> IndexFigures:
        """Compute the rates and averages from the counts and sums."""
        self.on_time_rate = _percent(self.settled_on_time, self.settled)
        self.online_rate = _percent(self.received_online, self.received)
        self.digitisation_rate = _percent(self.digitised, self.received)
        self.avg_processing_days = (
            round(self.processing_seconds / self.processed / 86400, 2) if self.processed else None
        )
        self.satisfaction = (
            round((self.rating_points / (4 * self.ratings) - 1) / 4 * 100, 1)
            if self.ratings
            else None
        )
        return self


_COUNTS = (
    "received",
    "received_online",
    "received_counter",
    "digitised",
    "settled",
    "settled_on_time",
    "settled_late",
    "in_progress",
    "overdue",
    "ratings",
    "processing_seconds",
    "processed",
    "rating_points",
)


@dataclass
class IndexRow:
    key: int  # the agency's or the unit's primary key
    code: str
    name: str
    figures: IndexFigures
    name_en: str = ""

    @property
    def label(self) -> str:
        """The name in the active language (agencies have an English name)."""
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# --- Periods ---------------------------------------------------------------------------------


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The aware moments [first instant of ``start``, first instant after ``end``) locally."""
    zone = local_zone()
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def this_year(today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    return date(today.year, 1, 1), date(today.year, 12, 31)


def preset_period(name: str, today: date | None = None) -> tuple[date, date] | None:
    """ "month", "quarter" or "year" containing ``today`` (local), else None."""
    today = today or timezone.localdate()
    if name == "month":
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following - timedelta(days=1)
    if name == "quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        first = date(today.year, first_month, 1)
        following = (
            date(today.year + 1, 1, 1)
            if first_month == 10
            else date(today.year, first_month + 3, 1)
        )
        return first, following - timedelta(days=1)
    if name == "year":
        return this_year(today)
    return None


# --- Scopes ----------------------------------------------------------------------------------


def _agency_tree() -> dict[int | None, list[int]]:
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in Agency.objects.values_list("pk", "parent_id"):
        children[parent].append(pk)
    return children


def _descendants(root: int, children: dict[int | None, list[int]]) -> list[int]:
    """``root`` and every agency below it (cycles ignored)."""
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return sorted(found)


def agency_scope(agency: Agency | int) -> list[int]:
    """The agency's primary key and its sub-agencies'."""
    pk = agency if isinstance(agency, int) else agency.pk
    return _descendants(pk, _agency_tree())


def _unit_q(unit: AdminUnit | int) -> Q:
    pk = unit if isinstance(unit, int) else unit.pk
    return Q(unit_id=pk) | Q(unit__parent_id=pk)


# --- The aggregate ---------------------------------------------------------------------------


def _aggregates(start: date, end: date, now: datetime) -> tuple[Q, dict[str, Any]]:
    """The WHERE that keeps the dossiers counted in the period, and the aggregates."""
    since, until = period_bounds(start, end)
    as_of = min(until, now)
    received = Q(submitted_at__gte=since, submitted_at__lt=until)
    settled = Q(settled_at__gte=since, settled_at__lt=until)
    # Open at the end of the period: still open now, or settled after it.
    in_progress = Q(submitted_at__lt=as_of) & (
        Q(status__in=OPEN_STATUSES) | Q(settled_at__gte=as_of)
    )
    overdue = in_progress & Q(due_at__lt=as_of)
    rated = Q(rating__created_at__gte=since, rating__created_at__lt=until)
    took = ExpressionWrapper(
        F("settled_at") - Coalesce("received_at", "submitted_at"), output_field=DurationField()
    )
    points = ExpressionWrapper(
        F("rating__attitude")
        + F("rating__timeliness")
        + F("rating__contacts")
        + F("rating__clarity"),
        output_field=IntegerField(),
    )
    aggregates: dict[str, Any] = {
        "received": Count("pk", filter=received),
        "received_online": Count("pk", filter=received & Q(channel="online")),
        "received_counter": Count("pk", filter=received & Q(channel="counter")),
        "digitised": Count("pk", filter=received & Q(digitised=True)),
        "settled": Count("pk", filter=settled),
        "settled_on_time": Count("pk", filter=settled & Q(on_time=True)),
        "settled_late": Count("pk", filter=settled & Q(on_time=False)),
        "in_progress": Count("pk", filter=in_progress),
        "overdue": Count("pk", filter=overdue),
        "ratings": Count("pk", filter=rated),
        "processing": Sum(took, filter=settled),
        "processed": Count("pk", filter=settled),
        "rating_points": Sum(points, filter=rated),
    }
    where = ~Q(status=Status.DRAFT) & (received | settled | in_progress | rated)
    return where, aggregates


def _figures(values: dict[str, Any]) -> IndexFigures:
    processing = values.get("processing")
    if isinstance(processing, timedelta):
        seconds = processing.total_seconds()
    else:  # some backends hand back microseconds
        seconds = (processing or 0) / 1_000_000
    figures = IndexFigures(
        **{
            name: values.get(name) or 0
            for name in _COUNTS
            if name not in {"processing_seconds", "rating_points"}
        },
        processing_seconds=seconds,
        rating_points=values.get("rating_points") or 0,
    )
    return figures


def _default_period(start: date | None, end: date | None) -> tuple[date, date]:
    first, last = this_year()
    return start or first, end or last


def service_index(
    *,
    start: date | None = None,
    end: date | None = None,
    agency: Agency | int | None = None,
    unit: AdminUnit | int | None = None,
    now: datetime | None = None,
) -> IndexFigures:
    """The figures of the city (no agency, no unit), an agency with its sub-agencies, or a ward
    (a province unit: all its wards). One query (plus one for the agency tree)."""
    start, end = _default_period(start, end)
    where, aggregates = _aggregates(start, end, now or timezone.now())
    qs = Dossier.objects.filter(where)
    if agency is not None:
        qs = qs.filter(agency_id__in=agency_scope(agency))
    if unit is not None:
        qs = qs.filter(_unit_q(unit))
    return _figures(qs.aggregate(**aggregates)).finish()


def service_index_rows(
    *,
    start: date | None = None,
    end: date | None = None,
    group: str = "agency",
    parent: Agency | AdminUnit | int | None = None,
    unit: AdminUnit | int | None = None,
    now: datetime | None = None,
    include_empty: bool = False,
) -> list[IndexRow]:
    """One row per agency or per ward.

    group="agency": the agencies directly under ``parent`` (default: under the top-level
    agency, i.e. the city's departments and ward committees), each with its sub-agencies'
    dossiers; the parent itself is a row too when it holds dossiers directly.
    group="unit": the wards of ``parent`` (default: the city's province unit).
    ``unit`` keeps only the dossiers of that ward (or province) in every row.
    Rows with no activity in the period are left out unless ``include_empty``. Sorted by name.
    """
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    start, end = _default_period(start, end)
    where, aggregates = _aggregates(start, end, now or timezone.now())
    column = "agency_id" if group == "agency" else "unit_id"
    qs = Dossier.objects.filter(where)
    if unit is not None:
        qs = qs.filter(_unit_q(unit))
    grouped = qs.values(column).order_by().annotate(**aggregates)
    if group == "agency":
        return _agency_rows(grouped, parent, include_empty)
    return _unit_rows(grouped, parent, include_empty)


def _agency_rows(
    grouped: Iterable[dict[str, Any]], parent: Any, include_empty: bool
) -> list[IndexRow]:
    children = _agency_tree()
    if parent is None:
        roots = children.get(None, [])
        parent_pk = roots[0] if len(roots) == 1 else None
    else:
        parent_pk = parent if isinstance(parent, int) else parent.pk
    heads = list(children.get(parent_pk, []))
    # Each agency under a head counts for that head.
    head_of: dict[int, int] = {}
    for head in heads:
        for pk in _descendants(head, children):
            head_of[pk] = head
    if parent_pk is not None:
        head_of[parent_pk] = parent_pk
    totals: dict[int, IndexFigures] = {}
    for values in grouped:
        found = head_of.get(values["agency_id"])
        if found is not None:
            totals.setdefault(found, IndexFigures()).add(_figures(values))
    wanted = set(heads) | ({parent_pk} & set(totals) if parent_pk is not None else set())
    if not include_empty:
        wanted &= set(totals)
    agencies = Agency.objects.filter(pk__in=wanted).only("pk", "code", "name", "name_en")
    rows = [
        IndexRow(a.pk, a.code, a.name, totals.get(a.pk, IndexFigures()).finish(), a.name_en)
        for a in agencies
    ]
    return sorted(rows, key=lambda r: (r.key != parent_pk, r.name))


def _unit_rows(
    grouped: Iterable[dict[str, Any]], parent: Any, include_empty: bool
) -> list[IndexRow]:
    if parent is None:
        parent = AdminUnit.objects.filter(
            code=f"{settings.THUDO_CITY['PROVINCE_CODE']:02d}"
        ).first()
    parent_pk = parent if isinstance(parent, int) or parent is None else parent.pk
    units = {
        u.pk: u
        for u in AdminUnit.objects.filter(Q(parent_id=parent_pk) | Q(pk=parent_pk)).only(
            "pk", "code", "name"
        )
    }
    totals: dict[int, IndexFigures] = {}
    for values in grouped:
        if values["unit_id"] in units:
            totals.setdefault(values["unit_id"], IndexFigures()).add(_figures(values))
    wanted = set(units) - {parent_pk} if include_empty else set(totals)
    rows = [
        IndexRow(pk, units[pk].code, units[pk].name, totals.get(pk, IndexFigures()).finish())
        for pk in wanted
    ]
    return sorted(rows, key=lambda r: (r.key != parent_pk, r.name))
