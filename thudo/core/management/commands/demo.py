"""Load the demo city: every domain's demo steps from the registry, once (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from thudo.core.registry import registry


class Command(BaseCommand):
    help = "Load the demo city (Hanoi): units, agencies, officials, citizens and domain data."

    def handle(self, *args: Any, **options: Any) -> None:
        for step in registry.demo_steps():
            self.stdout.write(f"demo: {step.name}")
            step.load(stdout=self.stdout)
        from thudo.accounts.demo import DEMO_PASSWORD, OFFICIALS, demo_citizen_sample

        self.stdout.write(self.style.SUCCESS("\nThe demo city is ready."))
        self.stdout.write(f"Demo password for every account: {DEMO_PASSWORD}")
        self.stdout.write(
            "Officials (password, then the 6-digit code printed by "
            "`.venv/bin/thudo demo_code <username>`):"
        )
        for username, full_name, role, _where in OFFICIALS[:4] + OFFICIALS[-3:]:
            self.stdout.write(f"  {username:<22} {full_name} ({role})")
        self.stdout.write("  admin                  /admin/ (superuser)")
        self.stdout.write("Citizens sign in with their personal ID, e.g.:")
        for citizen in demo_citizen_sample(2):
            self.stdout.write(f"  {citizen.personal_id}           {citizen.full_name}")
        self.stdout.write(
            '  or with "VNeID" (the demo e-ID provider at /eid/, same personal ID and password,'
            " e-ID level 2): procedure 2.000488's form then arrives filled from the population"
            " registry, and /my-data/ lists each access with its proof."
        )
        self.stdout.write(
            "Traceability: htx.vanduc keeps a cooperative's records at /trace/; attp.snnmt"
            " (food-safety officer) recalls batches at /workspace/trace/."
        )
        self.stdout.write(
            "Transit: `thudo run` starts the bus simulator; riders find stops and routes at"
            " /transit/ (panels at /transit/panel/<stop>/); dieuhanh.vantai (operator) watches"
            " the buses at /workspace/transit/."
        )
