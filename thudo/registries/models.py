"""The base registries the state already holds: population (with households), business
registration, land parcels and social insurance. Each is owned by its data owner and reachable by
other systems only through the exchange (thudo.registries.handlers serves them as exchange
services); the demo identity provider, which belongs to the population data owner, reads the
population registry directly (ADR 0017)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Household(models.Model):
    code = models.CharField(_("household code"), max_length=20, unique=True)
    address = models.CharField(_("address"), max_length=300)
    ward = models.ForeignKey(
        "core.AdminUnit", on_delete=models.PROTECT, related_name="+", verbose_name=_("ward")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self) -> str:
        return self.code


class Person(models.Model):
    """A resident in the national population database."""

    class Sex(models.TextChoices):
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    class Relation(models.TextChoices):
        HEAD = "head", _("Head of household")
        SPOUSE = "spouse", _("Spouse")
        CHILD = "child", _("Child")
        PARENT = "parent", _("Parent")
        OTHER = "other", _("Other relative")

    personal_id = models.CharField(_("personal ID number"), max_length=12, unique=True)
    full_name = models.CharField(_("full name"), max_length=150)
    birth_date = models.DateField(_("date of birth"))
    sex = models.CharField(_("sex"), max_length=6, choices=Sex.choices)
    nationality = models.CharField(_("nationality"), max_length=60, default="Việt Nam")
    ethnicity = models.CharField(_("ethnicity"), max_length=60, default="Kinh")
    birth_place = models.CharField(_("place of birth registration"), max_length=200, blank=True)
    hometown = models.CharField(_("hometown"), max_length=200, blank=True)
    household = models.ForeignKey(
        Household,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("household"),
    )
    relation_to_head = models.CharField(
        _("relation to the head of household"),
        max_length=10,
        choices=Relation.choices,
        blank=True,
    )
    father_id = models.CharField(_("father's personal ID"), max_length=12, blank=True)
    mother_id = models.CharField(_("mother's personal ID"), max_length=12, blank=True)
    spouse_id = models.CharField(_("spouse's personal ID"), max_length=12, blank=True)
    # e-ID (VNeID) account of this person: 0 none, 1 matched to this database, 2 verified in person
    eid_level = models.PositiveSmallIntegerField(_("e-ID level"), default=0)
    died_on = models.DateField(_("date of death"), null=True, blank=True)

    class Meta:
        ordering = ["personal_id"]
        verbose_name = _("resident")
        verbose_name_plural = _("residents")

    def __str__(self) -> str:
        return f"{self.full_name} ({self.personal_id})"


class Business(models.Model):
    """An enterprise or household business in the business registration database."""

    class Kind(models.TextChoices):
        LLC = "llc", _("Limited liability company")
        JSC = "jsc", _("Joint-stock company")
        PRIVATE = "private", _("Private enterprise")
        COOPERATIVE = "cooperative", _("Cooperative")
        HOUSEHOLD = "household", _("Household business")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Operating")
        SUSPENDED = "suspended", _("Suspended")
        DISSOLVED = "dissolved", _("Dissolved")

    code = models.CharField(_("enterprise code"), max_length=14, unique=True)
    name = models.CharField(_("name"), max_length=300)
    name_en = models.CharField(_("name in English"), max_length=300, blank=True)
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    registered_on = models.DateField(_("first registered"))
    address = models.CharField(_("head office"), max_length=300)
    ward = models.ForeignKey(
        "core.AdminUnit", on_delete=models.PROTECT, related_name="+", verbose_name=_("ward")
    )
    representative_id = models.CharField(
        _("legal representative's personal ID"), max_length=12, db_index=True
    )
    charter_capital = models.BigIntegerField(_("charter capital (VND)"), default=0)
    industry_codes = models.JSONField(_("industry codes (VSIC)"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("registered business")
        verbose_name_plural = _("registered businesses")

    def __str__(self) -> str:
        return self.name


class LandParcel(models.Model):
    """A land parcel in the land database, with its land-use right certificate."""

    ward = models.ForeignKey(
        "core.AdminUnit", on_delete=models.PROTECT, related_name="+", verbose_name=_("ward")
    )
    map_sheet = models.PositiveIntegerField(_("map sheet"))
    parcel_number = models.PositiveIntegerField(_("parcel number"))
    address = models.CharField(_("address"), max_length=300)
    area_m2 = models.DecimalField(_("area (m²)"), max_digits=12, decimal_places=1)
    land_use = models.CharField(_("land use purpose"), max_length=20)  # ODT, ONT, LUC, CLN, ...
    use_term = models.CharField(_("term of use"), max_length=60, default="Lâu dài")
    owner_business_code = models.CharField(_("right holder (business)"), max_length=14, blank=True)
    certificate_number = models.CharField(_("certificate number"), max_length=20, blank=True)
    certificate_issued_on = models.DateField(_("certificate issued"), null=True, blank=True)

    class Meta:
        ordering = ["ward", "map_sheet", "parcel_number"]
        verbose_name = _("land parcel")
        verbose_name_plural = _("land parcels")
        constraints = [
            models.UniqueConstraint(
                fields=["ward", "map_sheet", "parcel_number"], name="uniq_land_parcel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.map_sheet}/{self.parcel_number}"


class LandOwner(models.Model):
    """Index of right holders, so "parcels of this person" is one indexed read."""

    parcel = models.ForeignKey(LandParcel, on_delete=models.CASCADE, related_name="owners")
    personal_id = models.CharField(max_length=12, db_index=True)

    class Meta:
        verbose_name = _("right holder")
        verbose_name_plural = _("right holders")
        constraints = [
            models.UniqueConstraint(fields=["parcel", "personal_id"], name="uniq_land_owner")
        ]

    def __str__(self) -> str:
        return self.personal_id


class InsuranceRecord(models.Model):
    """A person's social and health insurance in the social insurance database."""

    class Status(models.TextChoices):
        CONTRIBUTING = "contributing", _("Contributing")
        PAUSED = "paused", _("Paused")
        RETIRED = "retired", _("Receiving pension")
        VOLUNTARY = "voluntary", _("Voluntary")

    insurance_number = models.CharField(_("social insurance number"), max_length=10, unique=True)
    personal_id = models.CharField(_("personal ID number"), max_length=12, unique=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    employer_code = models.CharField(_("employer (enterprise code)"), max_length=14, blank=True)
    employer_name = models.CharField(_("employer"), max_length=300, blank=True)
    contributing_since = models.DateField(_("contributing since"), null=True, blank=True)
    months_contributed = models.PositiveIntegerField(_("months contributed"), default=0)
    salary_basis = models.BigIntegerField(_("contribution salary (VND/month)"), default=0)
    health_card_number = models.CharField(_("health insurance card"), max_length=15, blank=True)
    health_card_valid_to = models.DateField(_("health card valid to"), null=True, blank=True)
    health_facility = models.CharField(_("registered health facility"), max_length=200, blank=True)

    class Meta:
        ordering = ["insurance_number"]
        verbose_name = _("insurance record")
        verbose_name_plural = _("insurance records")

    def __str__(self) -> str:
        return self.insurance_number
