from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "thudo.api"
    label = "api"
    verbose_name = _("Api")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
