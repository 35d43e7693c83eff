"""`thudo trace audit [--batch GTIN/LOT]` and `thudo trace anchor` (docs/trace.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from thudo.trace.identifiers import normalize_gtin


class Command(BaseCommand):
    help = "Traceability: recompute and verify the event hashes, chains and anchors; anchor now."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        audit = sub.add_parser(
            "audit",
            help="Recompute every event hash, batch chain and anchor; exit 1 naming the first "
            "altered event, link or anchor.",
        )
        audit.add_argument("--batch", default="", help="only this batch, as GTIN/LOT")
        sub.add_parser("anchor", help="Sign the chain heads that moved since the last anchor.")

    def handle(self, *args: Any, **options: Any) -> None:
        from thudo.trace import integrity
        from thudo.trace.models import Batch

        if options["subcommand"] == "anchor":
            anchor = integrity.anchor_now()
            if anchor is None:
                self.stdout.write("Nothing to anchor: no chain moved since the last anchor.")
            else:
                self.stdout.write(
                    f"Anchored {anchor.item_count} batch chains; root {anchor.root_hash}."
                )
            return
        batch = None
        if options["batch"]:
            gtin_text, sep, lot = options["batch"].partition("/")
            gtin = normalize_gtin(gtin_text)
            if not sep or not lot or gtin is None:
                raise CommandError("--batch must be GTIN/LOT, e.g. 08931234500016/L001")
            batch = (
                Batch.objects.select_related("product").filter(product__gtin=gtin, lot=lot).first()
            )
            if batch is None:
                raise CommandError(f"No batch {gtin}/{lot}.")
        code = integrity.audit(batch=batch, stdout=self.stdout)
        if code:
            raise SystemExit(code)
