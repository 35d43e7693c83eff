"""Dossiers: what a citizen or business files for a procedure, and its life in the one-stop shop.

Status is data; the allowed transitions are one table in `workflow.py`. The processing clock is a
`core.calendar.WorkingClock` stored as JSON in `clock`; `due_at` is its current deadline (None
while paused), kept in a column so queues can sort and filter on it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted, awaiting reception")
    RECEIVED = "received", _("Received")
    REFUSED = "refused", _("Refused at reception")
    PROCESSING = "processing", _("In processing")
    SUPPLEMENT_REQUESTED = "supplement_requested", _("Waiting for the applicant to supplement")
    APPROVED = "approved", _("Approved, awaiting signature")
    REJECTED = "rejected", _("Rejected")
    SIGNED = "signed", _("Result signed, ready to return")
    RETURNED = "returned", _("Result returned")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (
    Status.SUBMITTED,
    Status.RECEIVED,
    Status.PROCESSING,
    Status.SUPPLEMENT_REQUESTED,
    Status.APPROVED,
)
"""Statuses in which the agency still owes the applicant a decision (the clock matters)."""
SETTLED_STATUSES = (Status.REFUSED, Status.REJECTED, Status.SIGNED, Status.RETURNED, Status.CLOSED)
QUEUE_STATUSES = (
    Status.SUBMITTED,
    Status.RECEIVED,
    Status.PROCESSING,
    Status.SUPPLEMENT_REQUESTED,
    Status.APPROVED,
    Status.SIGNED,
    Status.REJECTED,
)
"""What the officials' queue shows by default: everything someone still has to act on."""


class Channel(models.TextChoices):
    ONLINE = "online", _("Online")
    COUNTER = "counter", _("At the counter")


class Delivery(models.TextChoices):
    ONLINE = "online", _("Download online")
    COUNTER = "counter", _("Collect at the counter")
    POST = "post", _("By post")


class DossierCounter(models.Model):
    """The day's last sequence number at a receiving unit. Incremented inside the submitting
    transaction, so a rolled-back submission gives its number back: codes have no gaps."""

    agency = models.ForeignKey("accounts.Agency", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "day"], name="uniq_dossier_counter")
        ]

    def __str__(self) -> str:
        return f"{self.agency_id} {self.day}: {self.last}"


class Dossier(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField(_("dossier code"), max_length=64, unique=True, null=True, blank=True)
    procedure = models.ForeignKey(
        "procedures.Procedure",
        on_delete=models.PROTECT,
        related_name="dossiers",
        verbose_name=_("procedure"),
    )
    version = models.ForeignKey(
        "procedures.ProcedureVersion",
        on_delete=models.PROTECT,
        related_name="dossiers",
        verbose_name=_("procedure version"),
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="dossiers",
        verbose_name=_("applicant"),
    )
    # The applicant as stated on the dossier (a counter officer may file for someone).
    applicant_name = models.CharField(_("applicant's name"), max_length=150)
    applicant_personal_id = models.CharField(_("applicant's personal ID"), max_length=12)
    applicant_phone = models.CharField(_("phone"), max_length=20, blank=True)
    applicant_email = models.EmailField(_("e-mail"), blank=True)
    applicant_address = models.CharField(_("address"), max_length=300, blank=True)

    receiving_agency = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        related_name="received_dossiers",
        verbose_name=_("receiving unit"),
    )
    agency = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        related_name="dossiers",
        verbose_name=_("agency holding the dossier"),
    )
    unit = models.ForeignKey(
        "core.AdminUnit",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("ward / commune"),
        help_text=_("The ward or commune of the receiving unit, for the service index."),
    )
    channel = models.CharField(
        _("channel"), max_length=8, choices=Channel.choices, default=Channel.ONLINE
    )
    delivery = models.CharField(
        _("result delivery"), max_length=8, choices=Delivery.choices, default=Delivery.ONLINE
    )
    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.DRAFT
    )
    step = models.PositiveSmallIntegerField(_("processing step"), default=0)
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="held_dossiers",
        verbose_name=_("official holding it"),
    )
    resume_status = models.CharField(max_length=24, blank=True)
    data = models.JSONField(_("form"), default=dict, blank=True)

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    received_at = models.DateTimeField(
        _("counts as received"), null=True, blank=True, help_text=_("After the cut-off hour.")
    )
    clock = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(_("legal deadline"), null=True, blank=True)
    appointment_at = models.DateTimeField(_("appointment"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)
    on_time = models.BooleanField(_("settled on time"), null=True, blank=True)
    returned_at = models.DateTimeField(_("returned"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    apologised_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    digitised = models.BooleanField(_("papers and result stored digitally"), default=False)
    idempotency_key = models.CharField(max_length=80, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="uniq_dossier_idempotency",
            )
        ]
        indexes = [
            models.Index(fields=["agency", "status", "due_at"], name="dossier_queue"),
            models.Index(fields=["applicant", "-created_at"], name="dossier_mine"),
            models.Index(fields=["submitted_at"], name="dossier_submitted"),
            models.Index(fields=["unit", "submitted_at"], name="dossier_unit_period"),
            models.Index(fields=["status", "due_at"], name="dossier_due"),
            # The officials' queue (selectors.dossier_queue_page): the open dossiers of an
            # agency in deadline order, read from the index and stopped after one page.
            models.Index(
                fields=["agency", "due_at", "id"],
                name="dossier_queue_open",
                condition=Q(status__in=QUEUE_STATUSES),
            ),
            # ... and those received by an agency but handed to another (few).
            models.Index(
                fields=["receiving_agency", "due_at", "id"],
                name="dossier_handed_off",
                condition=~Q(agency=F("receiving_agency")),
            ),
        ]

    def __str__(self) -> str:
        return self.code or f"draft {self.public_id}"


def _file_path(instance: DossierFile, filename: str) -> str:
    return f"dossiers/{instance.dossier.public_id}/{instance.sha256[:16]}-{instance.paper_code}"


class DossierFile(models.Model):
    """One uploaded paper. Supplements add files with a later `round`."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="files")
    paper_code = models.CharField(_("paper"), max_length=40)
    file = models.FileField(_("file"), upload_to=_file_path, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    round = models.PositiveSmallIntegerField(_("supplement round"), default=0)
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        ordering = ["dossier", "round", "paper_code", "pk"]
        verbose_name = _("dossier file")
        verbose_name_plural = _("dossier files")

    def __str__(self) -> str:
        return self.original_name


class DossierEvent(models.Model):
    """The dossier's timeline (forms 05 and 06): each transition and notable act."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, null=True, related_name="+"
    )
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["dossier", "at", "pk"]
        verbose_name = _("dossier event")
        verbose_name_plural = _("dossier events")

    def __str__(self) -> str:
        return f"{self.action} {self.at:%Y-%m-%d %H:%M}"


class DossierDocument(models.Model):
    """A document issued for the dossier (receipt, forms 02–05, the result)."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="documents")
    document = models.OneToOneField(
        "documents.Document", on_delete=models.PROTECT, related_name="dossier_link"
    )
    kind = models.CharField(max_length=24)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dossier", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.document_id}"


class Rating(models.Model):
    """The applicant's rating of the service, 1 (poor) to 5 (very good) per criterion."""

    dossier = models.OneToOneField(Dossier, on_delete=models.CASCADE, related_name="rating")
    attitude = models.PositiveSmallIntegerField(_("officials' attitude"))
    timeliness = models.PositiveSmallIntegerField(_("timeliness"))
    contacts = models.PositiveSmallIntegerField(_("number of contacts needed"))
    clarity = models.PositiveSmallIntegerField(_("clarity of guidance"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")

    def __str__(self) -> str:
        return f"{self.dossier_id}: {self.score}"

    @property
    def score(self) -> float:
        return (self.attitude + self.timeliness + self.contacts + self.clarity) / 4
