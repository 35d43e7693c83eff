from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "thudo.web"
    label = "web"
    verbose_name = _("Web")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
