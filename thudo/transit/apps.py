from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransitConfig(AppConfig):
    name = "thudo.transit"
    label = "transit"
    verbose_name = _("Transit")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
