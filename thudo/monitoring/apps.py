from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "thudo.monitoring"
    label = "monitoring"
    verbose_name = _("Digital-transformation monitoring")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
