from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TraceConfig(AppConfig):
    name = "thudo.trace"
    label = "trace"
    verbose_name = _("Food and agro traceability")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
