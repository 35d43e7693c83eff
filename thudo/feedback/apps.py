from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "thudo.feedback"
    label = "feedback"
    verbose_name = _("Citizen feedback")

    def ready(self) -> None:
        from . import manifest  # noqa: F401 — registers this domain
