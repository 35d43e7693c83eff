"""The digital-transformation programme and how it is watched: programme → pillars → targets →
indicators (computed live from a domain's declared source, or reported by an agency with
evidence and approved by the monitoring office), daily snapshots with a status, tasks with owners
and deadlines, reporting periods, and the provincial DTI self-assessment."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Programme(models.Model):
    """A resolution or plan with targets (Resolution 18-NQ/TU; Plan 239/KH-UBND)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=300)
    name_en = models.CharField(_("name in English"), max_length=300, blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=300, blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="plans",
        verbose_name=_("implements"),
    )
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    agency = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("monitoring office"),
        help_text=_("Its monitoring officers approve reported values."),
    )

    class Meta:
        ordering = ["start", "code"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")

    def __str__(self) -> str:
        return self.name


class Pillar(models.Model):
    """Digital government, digital economy, digital society, digitisation."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="pillars")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("name in English"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        ordering = ["programme", "order", "code"]
        verbose_name = _("pillar")
        verbose_name_plural = _("pillars")
        constraints = [
            models.UniqueConstraint(fields=["programme", "code"], name="mon_pillar_code"),
        ]

    def __str__(self) -> str:
        return self.name


class Direction(models.TextChoices):
    UP = "up", _("Higher is better")
    DOWN = "down", _("Lower is better")


class Status(models.TextChoices):
    ACHIEVED = "achieved", _("Achieved")
    ON_TRACK = "on_track", _("On track")
    AT_RISK = "at_risk", _("At risk")
    OFF_TRACK = "off_track", _("Off track")
    NO_DATA = "no_data", _("No data")


class Target(models.Model):
    """A measurable commitment: from a baseline to a target value by a deadline."""

    pillar = models.ForeignKey(Pillar, on_delete=models.CASCADE, related_name="targets")
    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=300)
    name_en = models.CharField(_("name in English"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    unit = models.CharField(_("unit"), max_length=20, help_text=_("e.g. %, points, rank"))
    direction = models.CharField(
        _("direction"), max_length=4, choices=Direction.choices, default=Direction.UP
    )
    baseline = models.DecimalField(_("baseline"), max_digits=14, decimal_places=2, null=True)
    baseline_date = models.DateField(_("baseline date"), null=True, blank=True)
    target_value = models.DecimalField(_("target value"), max_digits=14, decimal_places=2)
    deadline = models.DateField(_("deadline"))
    agency = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("responsible agency"),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=100)
    # The latest evaluation (written by the daily snapshot), so pages read one row.
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NO_DATA
    )
    current_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    forecast_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pillar", "order", "code"]
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        indexes = [models.Index(fields=["status"], name="mon_target_status")]

    def __str__(self) -> str:
        return self.name


class Indicator(models.Model):
    """What measures a target: computed from a declared source, or reported each period."""

    class Kind(models.TextChoices):
        COMPUTED = "computed", _("Computed from the platform's data")
        REPORTED = "reported", _("Reported by the responsible agency")

    class Frequency(models.TextChoices):
        MONTHLY = "monthly", _("Monthly")
        QUARTERLY = "quarterly", _("Quarterly")
        YEARLY = "yearly", _("Yearly")

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="indicators")
    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=300)
    name_en = models.CharField(_("name in English"), max_length=300, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    # A registry indicator code (core.registry.Indicator.code), for computed indicators.
    source = models.CharField(_("data source"), max_length=100, blank=True)
    unit = models.CharField(_("unit"), max_length=20)
    min_value = models.DecimalField(
        _("smallest valid value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("largest valid value"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    frequency = models.CharField(
        _("reporting frequency"),
        max_length=9,
        choices=Frequency.choices,
        default=Frequency.QUARTERLY,
    )
    evidence_required = models.BooleanField(_("evidence required"), default=True)
    agency = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reporting agency"),
    )
    is_primary = models.BooleanField(
        _("measures the target"), default=True, help_text=_("The target's status follows it.")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        ordering = ["target", "order", "code"]
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")

    def __str__(self) -> str:
        return self.name


class ReportingPeriod(models.Model):
    """A period agencies report for; once closed, no value may be reported for it."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="periods")
    frequency = models.CharField(max_length=9, choices=Indicator.Frequency.choices)
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    due = models.DateField(_("report due"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        ordering = ["-start", "frequency"]
        verbose_name = _("reporting period")
        verbose_name_plural = _("reporting periods")
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "frequency", "start"], name="mon_period_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start:%d/%m/%Y}–{self.end:%d/%m/%Y}"


def _evidence_path(instance: ReportedValue, filename: str) -> str:
    now = timezone.now()
    return f"monitoring/{now:%Y/%m}/{uuid.uuid4().hex}{filename[filename.rfind('.') :]}"


class ReportedValue(models.Model):
    """An agency's value for a reported indicator and period, with its evidence."""

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Returned")

    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="reports")
    period = models.ForeignKey(ReportingPeriod, on_delete=models.PROTECT, related_name="+")
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2)
    note = models.TextField(_("explanation"), blank=True)
    evidence = models.FileField(_("evidence"), upload_to=_evidence_path, blank=True)
    evidence_name = models.CharField(max_length=255, blank=True)
    state = models.CharField(
        _("state"), max_length=9, choices=State.choices, default=State.SUBMITTED
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    review_note = models.TextField(_("reviewer's note"), blank=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = _("reported value")
        verbose_name_plural = _("reported values")
        indexes = [models.Index(fields=["indicator", "state", "period"], name="mon_reported")]

    def __str__(self) -> str:
        return f"{self.indicator} {self.period}: {self.value}"


class Snapshot(models.Model):
    """An indicator's value on a day (None: the source could not answer — "no data")."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="snapshots")
    date = models.DateField(_("date"))
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, null=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NO_DATA)
    forecast_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["indicator", "date"]
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        constraints = [
            models.UniqueConstraint(fields=["indicator", "date"], name="mon_snapshot_daily"),
        ]

    def __str__(self) -> str:
        return f"{self.indicator_id} {self.date}: {self.value}"


class Task(models.Model):
    """Work under a target with an owner and a deadline (Plan 239 has more than 200)."""

    class State(models.TextChoices):
        OPEN = "open", _("In progress")
        DONE = "done", _("Done")

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("task"), max_length=300)
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("person in charge"),
    )
    due = models.DateField(_("deadline"))
    state = models.CharField(_("state"), max_length=4, choices=State.choices, default=State.OPEN)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    note = models.TextField(_("progress note"), blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due", "pk"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [models.Index(fields=["state", "due"], name="mon_task_due")]

    def __str__(self) -> str:
        return self.title


class Reminder(models.Model):
    """One reminder or escalation sent, so the daily job never sends it twice."""

    key = models.CharField(max_length=120, unique=True)  # e.g. "task:12:escalate"
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("reminder sent")
        verbose_name_plural = _("reminders sent")

    def __str__(self) -> str:
        return self.key


class DtiComponent(models.Model):
    """A component of the provincial digital-transformation index for a year, scored
    (entered by the monitoring office, or computed from an indicator's share of its target)."""

    class Group(models.TextChoices):
        FOUNDATION = "foundation", _("Foundations")
        GOVERNMENT = "government", _("Digital government")
        ECONOMY = "economy", _("Digital economy")
        SOCIETY = "society", _("Digital society")

    year = models.PositiveSmallIntegerField(_("year"))
    group = models.CharField(_("pillar"), max_length=10, choices=Group.choices)
    code = models.SlugField(_("code"), max_length=60)
    name = models.CharField(_("component"), max_length=200)
    name_en = models.CharField(_("name in English"), max_length=200, blank=True)
    max_points = models.DecimalField(_("maximum points"), max_digits=7, decimal_places=2)
    points = models.DecimalField(_("points"), max_digits=7, decimal_places=2, null=True, blank=True)
    indicator = models.ForeignKey(
        Indicator,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("computed from"),
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["year", "group", "code"]
        verbose_name = _("DTI component")
        verbose_name_plural = _("DTI components")
        constraints = [
            models.UniqueConstraint(fields=["year", "code"], name="mon_dti_once"),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.name}"
