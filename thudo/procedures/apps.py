from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProceduresConfig(AppConfig):
    name = "thudo.procedures"
    label = "procedures"
    verbose_name = _("Procedure catalog")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
