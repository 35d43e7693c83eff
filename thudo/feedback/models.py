"""Citizen feedback (like iHanoi): categories, reports with photos and a place, the units that
handle them on working-hour clocks, answers with evidence, ratings, follows, flags and moderation.

Open311 GeoReport v2 maps onto these tables: a category is a service (its `code` is the
service_code), a report is a service request (its `pk` is the service_request_id, its `token`
answers `tokens/{token}` until the id is known).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DESCRIPTION_MAX = 4000


class Urgency(models.TextChoices):
    URGENT = "urgent", _("Urgent (disaster, accident, crime, safety)")
    NORMAL = "normal", _("Normal")
    COMPLEX = "complex", _("Complex (several agencies or a legal procedure)")


class Category(models.Model):
    """A kind of problem (an Open311 service): who handles it, how urgent, what to ask."""

    class Handler(models.TextChoices):
        COMMUNE = "commune", _("Ward / commune committee of the place")
        DEPARTMENT = "department", _("City department")

    code = models.SlugField(_("code (Open311 service code)"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=150)
    name_en = models.CharField(_("name in English"), max_length=150, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("description in English"), blank=True)
    group = models.CharField(_("group"), max_length=100, blank=True)
    keywords = models.CharField(_("keywords"), max_length=300, blank=True)
    handler = models.CharField(
        _("handled by"), max_length=12, choices=Handler.choices, default=Handler.COMMUNE
    )
    department = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("responsible city department"),
        help_text=_(
            "Handles the category's reports when it is handled by a department, "
            "and receives the ward's reports that are reopened."
        ),
    )
    default_urgency = models.CharField(
        _("default urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    normal_days = models.PositiveSmallIntegerField(
        _("working days to resolve a normal report"), default=5
    )
    complex_days = models.PositiveSmallIntegerField(
        _("working days to resolve a complex report"), default=15
    )
    # [{"code", "label", "label_en", "datatype": string|number|datetime|text|singlevaluelist|
    #   multivaluelist, "required": bool, "order": int, "values": [{"key", "name", "name_en"}]}]
    questions = models.JSONField(_("extra questions"), default=list, blank=True)
    notice = models.TextField(_("notice shown before reporting"), blank=True)
    notice_en = models.TextField(_("notice in English"), blank=True)
    redirect_phone = models.CharField(
        _("emergency number (reports are not taken here)"), max_length=20, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("feedback category")
        verbose_name_plural = _("feedback categories")

    def __str__(self) -> str:
        return self.name


class ReportStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Waiting to be accepted")
    ACCEPTED = "accepted", _("Being handled")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_STATUSES = (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    FLAGGED = "flagged", _("Hidden pending review")
    HIDDEN = "hidden", _("Hidden by a moderator")


class Report(models.Model):
    """A resident's report of a problem at a place."""

    class Source(models.TextChoices):
        WEB = "web", _("Web / app")
        OPEN311 = "open311", _("Open311 client")

    class Resolution(models.TextChoices):
        FIXED = "fixed", _("Fixed")
        ANSWERED = "answered", _("Answered / explained")
        NOT_IN_SCOPE = "not_in_scope", _("Not within the city's feedback scope")

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="reports", verbose_name=_("category")
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback_reports",
        verbose_name=_("reporter"),
    )
    reporter_name = models.CharField(_("reporter's name"), max_length=150, blank=True)
    reporter_email = models.EmailField(_("reporter's e-mail"), blank=True)
    reporter_phone = models.CharField(_("reporter's phone"), max_length=20, blank=True)
    show_name = models.BooleanField(_("show my name publicly"), default=False)
    device_id = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    client = models.ForeignKey(  # the Open311 client's system account
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    description = models.TextField(
        _("description"), validators=[MaxLengthValidator(DESCRIPTION_MAX)]
    )
    attributes = models.JSONField(_("answers to the category's questions"), default=dict)
    address = models.CharField(_("address"), max_length=300, blank=True)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    unit = models.ForeignKey(
        "core.AdminUnit",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("ward / commune"),
    )
    unit_exact = models.BooleanField(default=False)  # from boundaries, not the nearest centre

    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ReportStatus.choices, default=ReportStatus.SUBMITTED
    )
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    agency = models.ForeignKey(  # the lead unit now (denormalised from the lead assignment)
        "accounts.Agency",
        on_delete=models.PROTECT,
        related_name="feedback_reports",
        verbose_name=_("handling unit"),
    )
    level = models.PositiveSmallIntegerField(default=0)  # 0 first handling, 1 after a reopening

    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    accept_due = models.DateTimeField(_("accept by"))
    resolve_due = models.DateTimeField(_("resolve by"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # Settled once (first acceptance / first answer of the current level).
    accepted_on_time = models.BooleanField(null=True, blank=True)
    resolved_on_time = models.BooleanField(null=True, blank=True)

    resolution = models.CharField(
        _("outcome"), max_length=14, choices=Resolution.choices, blank=True
    )
    answer = models.TextField(_("answer"), blank=True)
    rating = models.PositiveSmallIntegerField(
        _("rating"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    satisfied = models.BooleanField(_("satisfied"), null=True, blank=True)
    rating_comment = models.TextField(_("comment on the answer"), blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    reopened_at = models.DateTimeField(_("reopened"), null=True, blank=True)

    flag_count = models.PositiveIntegerField(default=0)
    follower_count = models.PositiveIntegerField(default=0)
    personal_data_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = _("feedback report")
        verbose_name_plural = _("feedback reports")
        indexes = [
            # the unit's queue, overdue first
            models.Index(fields=["agency", "status", "resolve_due"], name="fb_queue"),
            # duplicate search and the public map: same category, open, near a point
            models.Index(fields=["category", "status", "latitude", "longitude"], name="fb_near"),
            models.Index(fields=["latitude", "longitude"], name="fb_map"),
            # Open311 GET requests and statistics by period, and the map's newest reports in a
            # viewport (the position in the index spares a visit to each row outside it)
            models.Index(fields=["submitted_at", "latitude", "longitude"], name="fb_submitted"),
            models.Index(fields=["reporter", "submitted_at"], name="fb_reporter"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category}"


class Assignment(models.Model):
    """One unit's part in a report: the lead, or a supporting unit, each with its own clock."""

    class Role(models.TextChoices):
        LEAD = "lead", _("Lead unit")
        SUPPORT = "support", _("Supporting unit")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be accepted")
        ACCEPTED = "accepted", _("Accepted")
        ANSWERED = "answered", _("Answered")
        TRANSFERRED = "transferred", _("Transferred")
        ESCALATED = "escalated", _("Escalated after reopening")
        CLOSED = "closed", _("Closed")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="assignments")
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    role = models.CharField(_("role"), max_length=8, choices=Role.choices)
    state = models.CharField(_("state"), max_length=12, choices=State.choices)
    created_at = models.DateTimeField(default=timezone.now)
    accept_due = models.DateTimeField(_("accept by"))
    resolve_due = models.DateTimeField(_("resolve by"))
    accepted_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)  # breach sent to the leader
    note = models.TextField(_("request / contribution"), blank=True)

    class Meta:
        ordering = ["report", "created_at", "pk"]
        verbose_name = _("handling unit")
        verbose_name_plural = _("handling units")
        indexes = [
            models.Index(fields=["agency", "state", "resolve_due"], name="fb_assign_queue"),
            models.Index(fields=["state", "escalated_at", "accept_due"], name="fb_assign_breach"),
        ]

    def __str__(self) -> str:
        return f"{self.report_id} {self.agency} {self.role}"


class ReportEvent(models.Model):
    """The report's timeline: each transition, answer, public or internal note."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=30)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, null=True, related_name="+"
    )
    note = models.TextField(blank=True)
    public = models.BooleanField(default=True)  # internal notes are False
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("report event")
        verbose_name_plural = _("report events")

    def __str__(self) -> str:
        return f"{self.report_id} {self.action}"


def _media_path(instance: ReportMedia, filename: str) -> str:
    now = timezone.now()
    return f"feedback/{now:%Y/%m}/{uuid.uuid4().hex}{filename[filename.rfind('.') :]}"


class ReportMedia(models.Model):
    """A photo or short video: of the problem (reporter) or of the fix (evidence)."""

    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo")
        VIDEO = "video", _("Video")

    class Purpose(models.TextChoices):
        REPORT = "report", _("Reported problem")
        EVIDENCE = "evidence", _("Evidence of the answer")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="media")
    event = models.ForeignKey(
        ReportEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="media"
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.REPORT)
    file = models.FileField(upload_to=_media_path, max_length=255)
    content_type = models.CharField(max_length=50)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    redacted = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["report", "pk"]
        verbose_name = _("report photo or video")
        verbose_name_plural = _("report photos and videos")

    def __str__(self) -> str:
        return self.file.name


class Follow(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback_follows"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        constraints = [
            models.UniqueConstraint(fields=["report", "user"], name="fb_follow_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} follows {self.report_id}"


class Flag(models.Model):
    """A resident's complaint about a report's content (abuse, personal data, not genuine)."""

    class Reason(models.TextChoices):
        ABUSIVE = "abusive", _("Abusive or offensive")
        PERSONAL_DATA = "personal_data", _("Shows someone's personal data")
        NOT_GENUINE = "not_genuine", _("Photo or report is not genuine")
        SPAM = "spam", _("Spam or advertising")
        OTHER = "other", _("Other")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="flags")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=15, choices=Reason.choices)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("flag")
        verbose_name_plural = _("flags")
        constraints = [
            models.UniqueConstraint(fields=["report", "user"], name="fb_flag_once"),
        ]

    def __str__(self) -> str:
        return f"{self.report_id} {self.reason}"


class ModerationAction(models.Model):
    """Every moderator's act, kept for good: what was done, why, and what it replaced."""

    class Action(models.TextChoices):
        HIDE = "hide", _("Hid the report")
        SHOW = "show", _("Published the report again")
        DISMISS_FLAGS = "dismiss_flags", _("Dismissed the flags")
        REDACT_TEXT = "redact_text", _("Redacted the text")
        REDACT_PHOTO = "redact_photo", _("Redacted part of a photo")
        BAN = "ban", _("Banned the account")
        UNBAN = "unban", _("Lifted the ban")

    report = models.ForeignKey(
        Report, on_delete=models.CASCADE, null=True, blank=True, related_name="moderation"
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=15, choices=Action.choices)
    reason = models.TextField(_("reason"))
    data = models.JSONField(default=dict, blank=True)  # e.g. the text before redaction
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("moderation action")
        verbose_name_plural = _("moderation actions")

    def __str__(self) -> str:
        return f"{self.action} {self.report_id or self.target_user_id}"


class Ban(models.Model):
    """An account that may not report, flag or comment until `until` (None: until lifted)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback_bans"
    )
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField(_("until"), null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("ban")
        verbose_name_plural = _("bans")

    def __str__(self) -> str:
        return f"{self.user_id} until {self.until}"


class ResponseTemplate(models.Model):
    """A reusable answer; city-wide when `agency` is empty, for any category when it is empty."""

    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    category = models.ForeignKey(Category, on_delete=models.CASCADE, null=True, blank=True)
    title = models.CharField(_("title"), max_length=150)
    body = models.TextField(_("text"))

    class Meta:
        ordering = ["title"]
        verbose_name = _("response template")
        verbose_name_plural = _("response templates")

    def __str__(self) -> str:
        return self.title
