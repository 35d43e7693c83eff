"""The catalog of administrative procedures.

Administrators edit a procedure and its child rows (papers, form fields, steps) in the admin;
publishing takes an immutable snapshot, a `ProcedureVersion`, and a dossier points at the version
it was submitted under, so later edits never change the rules of a dossier already filed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency
from thudo.accounts.roles import Role


class Sector(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("name in English"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("sector")
        verbose_name_plural = _("sectors")

    def __str__(self) -> str:
        return self.name


class LifeEvent(models.Model):
    """A moment in a person's or a business's life that several procedures serve (a birth, a
    marriage, opening a shop)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("name in English"), max_length=200, blank=True)
    icon = models.CharField(_("icon"), max_length=40, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("life event")
        verbose_name_plural = _("life events")

    def __str__(self) -> str:
        return self.name


class Procedure(models.Model):
    class OnlineLevel(models.TextChoices):
        FULL = "full", _("Full-process online")
        PARTIAL = "partial", _("Partially online")

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=300)
    name_en = models.CharField(_("name in English"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("description in English"), blank=True)
    sector = models.ForeignKey(
        Sector, on_delete=models.PROTECT, related_name="procedures", verbose_name=_("sector")
    )
    life_events = models.ManyToManyField(
        LifeEvent, blank=True, related_name="procedures", verbose_name=_("life events")
    )
    agency_kind = models.CharField(
        _("competent agency type"), max_length=20, choices=Agency.Kind.choices
    )
    department_code = models.CharField(
        _("competent department code"),
        max_length=32,
        blank=True,
        help_text=_("For procedures a city department settles: that agency's code, e.g. HN-STP."),
    )
    online_level = models.CharField(
        _("online level"), max_length=10, choices=OnlineLevel.choices, default=OnlineLevel.FULL
    )
    deadline_days = models.DecimalField(
        _("legal deadline (working days)"), max_digits=5, decimal_places=1
    )
    fee = models.PositiveIntegerField(_("fee (VND)"), default=0)
    fee_waived_online = models.BooleanField(_("fee waived when submitted online"), default=True)
    cutoff = models.TimeField(
        _("same-day cut-off"),
        null=True,
        blank=True,
        help_text=_("Dossiers received after this hour count as received the next working day."),
    )
    result_title = models.CharField(_("result title"), max_length=300)
    result_title_en = models.CharField(_("result title in English"), max_length=300, blank=True)
    result_body = models.TextField(
        _("result text"),
        blank=True,
        help_text=_("May name form fields in braces, e.g. {child_name}."),
    )
    result_fields = models.JSONField(
        _("form fields printed on the result"),
        default=list,
        blank=True,
        help_text=_("A list of form field names, in order."),
    )
    eid_level_required = models.PositiveSmallIntegerField(
        _("e-ID level required"),
        default=0,
        choices=[
            (0, _("Any sign-in")),
            (1, _("e-ID level 1 or 2")),
            (2, _("e-ID level 2")),
        ],
        help_text=_("Citizens must sign in through the e-ID provider at this level to submit."),
    )
    is_active = models.BooleanField(_("open for submissions"), default=True)
    search_text = models.TextField(editable=False, blank=True, default="")
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["sector__order", "name"]
        verbose_name = _("procedure")
        verbose_name_plural = _("procedures")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class RequiredPaper(models.Model):
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="papers")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=300)
    name_en = models.CharField(_("name in English"), max_length=300, blank=True)
    required = models.BooleanField(_("mandatory"), default=True)
    file_types = models.CharField(
        _("accepted file types"),
        max_length=100,
        default="pdf,jpg,png",
        help_text=_("Comma-separated: pdf, jpg, png."),
    )
    max_mb = models.PositiveSmallIntegerField(_("maximum size (MB)"), default=10)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["procedure", "order", "pk"]
        verbose_name = _("required paper")
        verbose_name_plural = _("required papers")
        constraints = [
            models.UniqueConstraint(fields=["procedure", "code"], name="uniq_procedure_paper")
        ]

    def __str__(self) -> str:
        return self.name


class FormField(models.Model):
    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        TEXTAREA = "textarea", _("Long text")
        INTEGER = "integer", _("Whole number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        BOOLEAN = "boolean", _("Yes / no")
        PERSONAL_ID = "personal_id", _("Personal ID number")
        PHONE = "phone", _("Phone number")
        EMAIL = "email", _("E-mail address")

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="fields")
    name = models.SlugField(_("name"), max_length=40)
    label = models.CharField(_("label"), max_length=200)
    label_en = models.CharField(_("label in English"), max_length=200, blank=True)
    help_text = models.CharField(_("help text"), max_length=300, blank=True)
    help_text_en = models.CharField(_("help text in English"), max_length=300, blank=True)
    type = models.CharField(_("type"), max_length=12, choices=Type.choices, default=Type.TEXT)
    required = models.BooleanField(_("required"), default=True)
    choices = models.JSONField(
        _("choices"),
        default=list,
        blank=True,
        help_text=_('For a choice field: [["value", "Nhãn", "Label"], ...].'),
    )
    pattern = models.CharField(_("pattern (regular expression)"), max_length=200, blank=True)
    max_length = models.PositiveSmallIntegerField(_("maximum length"), null=True, blank=True)
    min_value = models.IntegerField(_("minimum"), null=True, blank=True)
    max_value = models.IntegerField(_("maximum"), null=True, blank=True)
    source = models.CharField(
        _("filled from registry"),
        max_length=300,
        blank=True,
        help_text=_(
            "Once-only: <service identifier>#<JSON pointer>, e.g. "
            "VN/GOV/BCA/CSDLQGDC/person#/full_name. The citizen sees the registry's value, "
            "verified and not editable."
        ),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["procedure", "order", "pk"]
        verbose_name = _("form field")
        verbose_name_plural = _("form fields")
        constraints = [
            models.UniqueConstraint(fields=["procedure", "name"], name="uniq_procedure_field")
        ]

    def __str__(self) -> str:
        return self.label


class ProcessingStep(models.Model):
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("name in English"), max_length=200, blank=True)
    role = models.CharField(_("role that acts"), max_length=24, choices=Role.choices)
    share = models.PositiveSmallIntegerField(
        _("share of the deadline (%)"),
        default=0,
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["procedure", "order", "pk"]
        verbose_name = _("processing step")
        verbose_name_plural = _("processing steps")

    def __str__(self) -> str:
        return self.name


class ProcedureVersion(models.Model):
    """An immutable snapshot of a procedure's rules (`spec`, see `procedures.specs`)."""

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    spec = models.JSONField(_("rules"))
    created_at = models.DateTimeField(_("published"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["procedure", "-number"]
        verbose_name = _("procedure version")
        verbose_name_plural = _("procedure versions")
        constraints = [
            models.UniqueConstraint(fields=["procedure", "number"], name="uniq_procedure_version")
        ]

    def __str__(self) -> str:
        return f"{self.procedure.code} v{self.number}"
