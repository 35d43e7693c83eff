"""The shared document store, the city's signing keys, and signing jobs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Document(models.Model):
    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt and appointment (form 01)")
        SUPPLEMENT_REQUEST = "supplement_request", _("Request to supplement (form 02)")
        REFUSAL = "refusal", _("Refusal to accept (form 03)")
        APOLOGY = "apology", _("Apology and new appointment (form 04)")
        CONTROL_SLIP = "control_slip", _("Processing-control slip (form 05)")
        RESULT = "result", _("Result certificate")
        OTHER = "other", _("Other document")

    class Access(models.TextChoices):
        AGENCY = "agency", _("The owning agency only")
        SUBJECT = "subject", _("The agency and the person it concerns")
        PUBLIC = "public", _("Anyone (published)")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("type"), max_length=24, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=255)
    agency = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        related_name="documents",
        verbose_name=_("owning agency"),
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
        verbose_name=_("person concerned"),
    )
    access = models.CharField(
        _("who may read"), max_length=10, choices=Access.choices, default=Access.SUBJECT
    )
    reference = models.CharField(
        _("reference (e.g. dossier code)"), max_length=64, blank=True, db_index=True
    )
    retain_until = models.DateField(_("keep until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.title

    @property
    def current(self) -> DocumentVersion | None:
        return self.versions.order_by("-number").first()


def _version_path(instance: DocumentVersion, filename: str) -> str:
    return f"documents/{instance.document.public_id}/v{instance.number}-{instance.sha256[:16]}.pdf"


class DocumentVersion(models.Model):
    """One immutable file of a document. Signing makes a new version (incremental update)."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    file = models.FileField(_("file"), upload_to=_version_path, max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    content_type = models.CharField(max_length=100, default="application/pdf")
    signatures = models.PositiveSmallIntegerField(_("signatures"), default=0)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["document", "number"]
        verbose_name = _("document version")
        verbose_name_plural = _("document versions")
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="uniq_document_version")
        ]

    def __str__(self) -> str:
        return f"{self.document} v{self.number}"


class PkiObject(models.Model):
    """A key pair and certificate of the city's PKI: the root CA, the time-stamping authority,
    the OCSP responder, and each agency's signing credential. Private keys are stored only as
    encrypted PKCS#12 (or, in production, referenced in a PKCS#11 token and not stored)."""

    class Role(models.TextChoices):
        ROOT = "root", _("Root certification authority")
        TSA = "tsa", _("Time-stamping authority")
        OCSP = "ocsp", _("OCSP responder")
        AGENCY = "agency", _("Agency signing certificate")

    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    agency = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signing_credentials",
        verbose_name=_("agency"),
    )
    subject = models.CharField(_("subject"), max_length=255)
    serial = models.CharField(_("serial number (hex)"), max_length=64, unique=True)
    certificate_pem = models.TextField(_("certificate (PEM)"))
    key_pkcs12 = models.BinaryField(
        _("encrypted key (PKCS#12)"), null=True, blank=True, editable=False
    )
    pkcs11 = models.JSONField(_("PKCS#11 token (module, slot, label)"), null=True, blank=True)
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"))
    is_active = models.BooleanField(_("in use"), default=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revocation_reason = models.CharField(_("revocation reason"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["role", "-created_at"]
        verbose_name = _("PKI key and certificate")
        verbose_name_plural = _("PKI keys and certificates")

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.subject}"


class SigningJob(models.Model):
    """Batch signing, run as background work, with progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Finished with errors")

    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    documents = models.ManyToManyField(Document, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    processed = models.JSONField(default=list, blank=True, editable=False)  # document ids
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("signing job")
        verbose_name_plural = _("signing jobs")

    def __str__(self) -> str:
        return f"{self.done}/{self.total} ({self.status})"
