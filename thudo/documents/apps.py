from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "thudo.documents"
    label = "documents"
    verbose_name = _("Documents and signatures")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
