"""`thudo verify FILE.pdf`: the same verdict as the verification page; non-zero if not valid."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from thudo.core.errors import ThudoError
from thudo.documents.verify import verify_upload


class Command(BaseCommand):
    help = "Verify the signatures of a PDF and whether it is registered here. Exit 0 if valid."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        try:
            with path.open("rb") as fh:
                report = verify_upload(fh)
        except OSError as exc:
            self.stderr.write(f"cannot read {path}: {exc.strerror}")
            sys.exit(2)
        except ThudoError as exc:
            body = exc.as_dict()
            self.stderr.write(
                f"{path}: {'; '.join(m for ms in body['fields'].values() for m in ms)}"
            )
            sys.exit(1)
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        else:
            self.stdout.write(f"{path}: {report['verdict'].upper()}  sha256={report['sha256']}")
            registered = report.get("registered")
            self.stdout.write(
                "  registered: "
                + (
                    f"{registered['title']} v{registered['version']} ({registered['agency']})"
                    if registered
                    else "no"
                )
            )
            for i, s in enumerate(report.get("signatures", []), 1):
                self.stdout.write(
                    f"  signature {i}: {s.get('signer')} at {s.get('signed_at')}; "
                    f"level {s.get('pades_level')}; intact={s.get('intact')} "
                    f"trusted={s.get('trusted')} revoked={s.get('revoked')} "
                    f"covers {s.get('coverage')}"
                )
                for e in s.get("errors", []):
                    self.stdout.write(f"    - {e}")
        if report["verdict"] != "valid":
            sys.exit(1)
