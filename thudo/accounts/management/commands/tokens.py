from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from thudo.accounts import services
from thudo.accounts.models import ApiToken, User


class Command(BaseCommand):
    help = "Create, list or revoke API tokens. `create` prints the raw token on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--user", required=True)
        create.add_argument("--name", required=True)
        listing = sub.add_parser("list")
        listing.add_argument("--user", required=True)
        revoke = sub.add_parser("revoke")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "revoke":
            token = ApiToken.objects.filter(prefix=options["prefix"]).first()
            if token is None:
                raise CommandError("no token with this prefix")
            services.api_token_revoke(token=token, actor="cli")
            self.stdout.write(f"revoked {token}")
            return
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user named {options['user']!r}")
        if action == "list":
            for t in ApiToken.objects.filter(user=user).order_by("created_at"):
                state = "revoked" if t.revoked_at else "active"
                self.stdout.write(f"{t.prefix}  {t.name}  {state}  {t.created_at:%Y-%m-%d}")
            return
        _token, raw = services.api_token_create(user=user, name=options["name"], actor="cli")
        self.stdout.write(raw)
