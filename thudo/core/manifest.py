"""The core domain's entries in the registry."""

from django.utils.translation import gettext_lazy as _

from thudo.core.registry import ApiMount, DemoStep, Manifest, MenuEntry, registry


def _demo_units(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from django.conf import settings

    from thudo.core.models import AdminUnit
    from thudo.core.units import units_load

    if AdminUnit.objects.filter(level=AdminUnit.Level.COMMUNE).count() >= 3000:
        return
    # Every province and commune-level unit: addresses anywhere in the country resolve.
    created, _updated = units_load()
    if stdout:
        stdout.write(
            f"  administrative units: {created} created "
            f"(city: province {settings.THUDO_CITY['PROVINCE_CODE']:02d})"
        )


registry.register(
    Manifest(
        app_label="core",
        api=[ApiMount("core/", "thudo.core.api.router")],
        menu=[
            MenuEntry(
                _("Audit trail"), "core:audit", "official", order=900, permission="audit.view"
            )
        ],
        demo=[DemoStep("units", _demo_units, order=10)],
    )
)
