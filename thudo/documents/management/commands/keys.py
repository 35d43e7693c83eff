"""`thudo keys`: the city's PKI — init, list, rotate, revoke, import an agency's PKCS#12."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from thudo.accounts.models import Agency
from thudo.core.errors import ThudoError
from thudo.documents import pki
from thudo.documents.models import PkiObject


class Command(BaseCommand):
    help = "Manage the city's PKI: root CA, time-stamping, OCSP and agency signing keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        init = sub.add_parser("init", help="create what is missing (idempotent)")
        init.add_argument("--agency", action="append", help="only these agency codes")
        init.add_argument("--force", action="store_true", help="new keys even where present")
        sub.add_parser("list")
        rotate = sub.add_parser("rotate", help="a new key and certificate for an agency")
        rotate.add_argument("agency")
        revoke = sub.add_parser("revoke", help="revoke a certificate by serial (hex)")
        revoke.add_argument("serial")
        revoke.add_argument("--reason", default="key_compromise")
        imp = sub.add_parser("import", help="an agency's own certificate from a PKCS#12 file")
        imp.add_argument("agency")
        imp.add_argument("path")
        imp.add_argument(
            "--password-env",
            default="",
            help="read the file's password from this environment variable",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except ThudoError as exc:
            raise CommandError(str(exc.as_dict())) from None

    def _agency(self, code: str) -> Agency:
        agency = Agency.objects.filter(code=code).first()
        if agency is None:
            raise CommandError(f"no agency with code {code!r}")
        return agency

    def _init(self, options: dict[str, Any]) -> None:
        agencies = Agency.objects.filter(is_active=True)
        if options["agency"]:
            agencies = agencies.filter(code__in=options["agency"])
        summary = pki.pki_init(agencies=agencies, force=options["force"])
        self.stdout.write(str(summary))

    def _list(self, options: dict[str, Any]) -> None:
        for obj in PkiObject.objects.select_related("agency").order_by("role", "subject"):
            state = "revoked" if obj.revoked_at else ("active" if obj.is_active else "retired")
            self.stdout.write(
                f"{obj.role:<7} {obj.serial:<42} {obj.not_after:%Y-%m-%d} {state:<8} {obj.subject}"
            )

    def _rotate(self, options: dict[str, Any]) -> None:
        credential = pki.credential_rotate(agency=self._agency(options["agency"]), actor="cli")
        self.stdout.write(f"new certificate {credential}")

    def _revoke(self, options: dict[str, Any]) -> None:
        obj = PkiObject.objects.filter(serial=options["serial"].lower()).first()
        if obj is None:
            raise CommandError("no certificate with this serial")
        pki.credential_revoke(credential=obj, reason=options["reason"], actor="cli")
        self.stdout.write(f"revoked {obj}")

    def _import(self, options: dict[str, Any]) -> None:
        data = Path(options["path"]).read_bytes()
        password = (
            os.environ.get(options["password_env"], "")
            if options["password_env"]
            else getpass.getpass("PKCS#12 password: ")
        )
        obj = pki.credential_import_pkcs12(
            agency=self._agency(options["agency"]),
            data=data,
            password=password.encode(),
            actor="cli",
        )
        self.stdout.write(f"imported {obj}")
