from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EidConfig(AppConfig):
    name = "thudo.eid"
    label = "eid"
    verbose_name = _("e-ID sign-in")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
        from .keys import load_existing_key

        load_existing_key()
