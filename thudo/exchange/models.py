"""The data exchange (like the LGSP / X-Road): members, their information systems, the services
each system provides, access rights granted by the provider, nodes that carry signed messages, the
append-only Merkle log of every exchange with signed tree heads, and the citizen's side (access
notifications, objections).

Identifiers follow X-Road: a member is `VN/GOV/<member>`, a system `VN/GOV/<member>/<system>`, a
service `VN/GOV/<member>/<system>/<service>` (see docs/exchange.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Node(models.Model):
    """A Thudo exchange node (a "security server"): it carries its members' systems' messages.

    Every node knows every other node's address and public key (the shared configuration);
    which node *this* process is comes from settings.EXCHANGE_NODE_CODE.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    base_url = models.URLField(
        _("address"), max_length=300, help_text=_("e.g. https://lgsp.hanoi.gov.vn")
    )
    public_jwk = models.JSONField(
        _("public signing key (JWK)"), default=dict, blank=True, help_text=_("Ed25519 or P-256.")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("exchange node")
        verbose_name_plural = _("exchange nodes")

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """An organisation on the exchange: a city agency, a ministry's data owner, a business."""

    class MemberClass(models.TextChoices):
        GOV = "GOV", _("Government")
        COM = "COM", _("Business")
        NGO = "NGO", _("Non-profit")

    instance = models.CharField(_("instance"), max_length=10, default="VN")
    member_class = models.CharField(
        _("class"), max_length=4, choices=MemberClass.choices, default=MemberClass.GOV
    )
    code = models.CharField(_("member code"), max_length=40)
    name = models.CharField(_("name"), max_length=255)
    name_en = models.CharField(_("name in English"), max_length=255, blank=True)
    agency = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchange_members",
        verbose_name=_("agency"),
        help_text=_("The Thudo agency whose officials manage this member's grants and objections."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["instance", "member_class", "code"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "member_class", "code"], name="uniq_exchange_member"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def identifier(self) -> str:
        return f"{self.instance}/{self.member_class}/{self.code}"


class System(models.Model):
    """An information system of a member (X-Road's subsystem): it calls services, provides them,
    or both. It authenticates to its node with a client assertion signed by its key."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="systems", verbose_name=_("member")
    )
    code = models.CharField(_("system code"), max_length=40)
    name = models.CharField(_("name"), max_length=255)
    name_en = models.CharField(_("name in English"), max_length=255, blank=True)
    node = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="systems", verbose_name=_("node")
    )
    public_jwk = models.JSONField(
        _("public key for client assertions (JWK)"), default=dict, blank=True
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exchange_system",
        verbose_name=_("system account"),
        help_text=_("For systems hosted inside Thudo (the portal): the account they act as."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["member", "code"]
        verbose_name = _("information system")
        verbose_name_plural = _("information systems")
        constraints = [
            models.UniqueConstraint(fields=["member", "code"], name="uniq_exchange_system")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def identifier(self) -> str:
        return f"{self.member.identifier}/{self.code}"


class Service(models.Model):
    """A REST service a system provides, described by OpenAPI."""

    system = models.ForeignKey(
        System, on_delete=models.PROTECT, related_name="services", verbose_name=_("provider")
    )
    code = models.CharField(_("service code"), max_length=60)
    version = models.CharField(_("version"), max_length=20, default="v1")
    name = models.CharField(_("name"), max_length=255)
    name_en = models.CharField(_("name in English"), max_length=255, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("description in English"), blank=True)
    openapi = models.JSONField(_("OpenAPI description"), default=dict, blank=True)
    # Where the provider node sends the call: "handler:<key>" for a provider implemented inside
    # Thudo (registered in thudo.exchange.handlers), or an http(s) URL of the provider system.
    target = models.CharField(_("target"), max_length=300)
    personal_data = models.BooleanField(
        _("returns personal data"),
        default=False,
        help_text=_("Calls must name the person the data is about; they see it in their tracker."),
    )
    timeout_s = models.FloatField(_("timeout (seconds)"), default=10.0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["system", "code"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.UniqueConstraint(fields=["system", "code"], name="uniq_exchange_service")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def identifier(self) -> str:
        return f"{self.system.identifier}/{self.code}"


class Grant(models.Model):
    """The provider lets one client system call one service, on a legal basis, until a date."""

    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="grants", verbose_name=_("service")
    )
    client = models.ForeignKey(
        System, on_delete=models.PROTECT, related_name="grants", verbose_name=_("client system")
    )
    legal_basis = models.CharField(_("legal basis"), max_length=500)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    granted_at = models.DateTimeField(_("granted"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    revoke_reason = models.CharField(_("reason for revoking"), max_length=500, blank=True)

    class Meta:
        ordering = ["service", "client", "-granted_at"]
        verbose_name = _("access right")
        verbose_name_plural = _("access rights")
        indexes = [models.Index(fields=["client", "service"], name="ex_grant_lookup")]

    def __str__(self) -> str:
        return f"{self.client} → {self.service}"

    def is_valid(self, at=None) -> bool:  # type: ignore[no-untyped-def]
        at = at or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)


class Message(models.Model):
    """One exchange as this node saw it: the idempotency and replay store, and what the
    metrics and the tracker read. The log entry is the tamper-evident copy."""

    class Side(models.TextChoices):
        CLIENT = "client", _("Client side")
        PROVIDER = "provider", _("Provider side")

    side = models.CharField(_("side"), max_length=8, choices=Side.choices)
    message_id = models.CharField(_("message id"), max_length=64)
    client = models.CharField(_("client system"), max_length=200)
    service = models.CharField(_("service"), max_length=300)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500, blank=True)
    purpose = models.CharField(_("purpose (legal basis)"), max_length=500, blank=True)
    dossier_code = models.CharField(_("dossier"), max_length=40, blank=True)
    end_user = models.CharField(_("end user"), max_length=100, blank=True)
    subject = models.CharField(
        _("data subject (personal ID)"), max_length=12, blank=True, db_index=True
    )
    request_digest = models.CharField(max_length=64)
    request_signature = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    response_signature = models.TextField(blank=True)
    started_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    duration_ms = models.FloatField(_("duration (ms)"), null=True, blank=True)
    log_index = models.BigIntegerField(_("log entry"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("exchange message")
        verbose_name_plural = _("exchange messages")
        constraints = [
            models.UniqueConstraint(
                fields=["side", "client", "message_id"], name="uniq_exchange_message"
            )
        ]
        indexes = [models.Index(fields=["service", "started_at"], name="ex_msg_service")]

    def __str__(self) -> str:
        return self.message_id


class LogEntry(models.Model):
    """One leaf of this node's append-only Merkle log (RFC 6962/9162 hashing).

    `entry` is the canonical JSON that was hashed (leaf_hash = SHA-256(0x00 || entry)); nothing
    is updated or deleted. Archiving moves `entry` to an archive file and blanks it here; the
    leaf hash stays, so proofs still work (docs/exchange.md)."""

    index = models.BigIntegerField(_("index"), unique=True)
    logged_at = models.DateTimeField(_("logged"), default=timezone.now)
    message_id = models.CharField(_("message id"), max_length=64, db_index=True)
    kind = models.CharField(_("kind"), max_length=20)  # request / response / error
    subject = models.CharField(
        _("data subject (personal ID)"), max_length=12, blank=True, db_index=True
    )
    entry = models.TextField(_("canonical entry"), blank=True)
    leaf_hash = models.BinaryField(_("leaf hash"), max_length=32)
    archived = models.BooleanField(_("archived"), default=False)

    class Meta:
        ordering = ["index"]
        verbose_name = _("log entry")
        verbose_name_plural = _("log entries")

    def __str__(self) -> str:
        return f"#{self.index}"


class MerkleNode(models.Model):
    """The hash of a complete subtree: leaves [index·2^level, (index+1)·2^level). Level 0 is the
    leaf hashes. Stored when the subtree fills, so a proof reads O(log n) rows."""

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        verbose_name = _("Merkle tree node")
        verbose_name_plural = _("Merkle tree nodes")
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="uniq_merkle_node")]

    def __str__(self) -> str:
        return f"{self.level}/{self.index}"


class TreeHead(models.Model):
    """A signed tree head: the log's size and root at a moment, signed by this node (JWS)."""

    tree_size = models.BigIntegerField(_("tree size"), unique=True)
    root_hash = models.BinaryField(_("root hash"), max_length=32)
    timestamp = models.DateTimeField(_("time"), default=timezone.now)
    signature = models.TextField(_("signature (JWS)"))

    class Meta:
        ordering = ["-tree_size"]
        get_latest_by = "tree_size"
        verbose_name = _("signed tree head")
        verbose_name_plural = _("signed tree heads")

    def __str__(self) -> str:
        return f"STH {self.tree_size}"


class AccessSubscription(models.Model):
    """A citizen asks to be told each time an exchange touches their data."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="exchange_subscription",
        verbose_name=_("citizen"),
    )
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("access notification subscription")
        verbose_name_plural = _("access notification subscriptions")

    def __str__(self) -> str:
        return str(self.user)


class Objection(models.Model):
    """A citizen objects to one access to their data; it reaches the agency that made it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for the agency")
        ANSWERED = "answered", _("Answered")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="exchange_objections",
        verbose_name=_("citizen"),
    )
    message = models.ForeignKey(
        Message, on_delete=models.PROTECT, related_name="objections", verbose_name=_("exchange")
    )
    agency = models.ForeignKey(
        "accounts.Agency",
        on_delete=models.PROTECT,
        related_name="exchange_objections",
        verbose_name=_("agency"),
    )
    text = models.TextField(_("objection"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("answered by"),
    )
    created_at = models.DateTimeField(_("filed"), auto_now_add=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("objection")
        verbose_name_plural = _("objections")

    def __str__(self) -> str:
        return f"{self.user} — {self.message}"
