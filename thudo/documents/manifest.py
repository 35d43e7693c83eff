"""The documents domain's entries in the registry."""

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from thudo.core.registry import ApiMount, DemoStep, Manifest, MenuEntry, PeriodicJob, registry


def _demo(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


registry.register(
    Manifest(
        app_label="documents",
        api=[ApiMount("documents/", "thudo.documents.api.router")],
        menu=[
            MenuEntry(
                _("Verify a document"), "documents:verify", "citizen", icon="shield", order=80
            ),
            MenuEntry(_("My documents"), "documents:mine", "citizen", icon="file", order=70),
        ],
        demo=[DemoStep("documents", _demo, order=40)],
        periodic=[
            PeriodicJob(
                "documents: remove orphaned files",
                "thudo.documents.tasks.sweep_orphan_files",
                timedelta(hours=6),
            )
        ],
    )
)
