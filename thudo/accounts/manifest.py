"""The accounts domain's entries in the registry."""

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from thudo.core.registry import ApiMount, DemoStep, Manifest, MenuEntry, PeriodicJob, registry


def _demo(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


registry.register(
    Manifest(
        app_label="accounts",
        api=[ApiMount("accounts/", "thudo.accounts.api.router")],
        menu=[
            MenuEntry(
                _("Account security"), "accounts:security", "official", icon="shield", order=950
            )
        ],
        demo=[DemoStep("accounts", _demo, order=20)],
        periodic=[
            PeriodicJob(
                "accounts: purge old sign-in throttles",
                "thudo.accounts.tasks.purge_login_throttles",
                timedelta(hours=1),
            )
        ],
    )
)
