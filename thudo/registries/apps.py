from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistriesConfig(AppConfig):
    name = "thudo.registries"
    label = "registries"
    verbose_name = _("Base registries")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
        from .handlers import register_all

        register_all()  # the registries' exchange services (thudo.exchange.handlers)
