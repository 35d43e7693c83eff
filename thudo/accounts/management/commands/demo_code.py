from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from thudo.accounts.demo import OFFICIALS, demo_totp_key


class Command(BaseCommand):
    help = "Print the current authenticator code of a demo official (demo accounts only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        demo_names = {o[0] for o in OFFICIALS} | {"admin"}
        if username not in demo_names:
            raise CommandError("only the published demo accounts have a printable code")
        device = TOTPDevice.objects.filter(
            user__username=username, confirmed=True, key=demo_totp_key(username)
        ).first()
        if device is None:
            raise CommandError("this account does not use the demo authenticator key")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:0{device.digits}d}")
