"""Keep the public look-up's finished answers in step with the dossiers they describe."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Dossier, Rating


@receiver(post_save, sender=Dossier, dispatch_uid="dossiers.forget_public_answer")
def forget_public_answer(sender: Any, instance: Dossier, **kwargs: Any) -> None:
    if instance.code:
        from .selectors import public_answer_forget

        code = instance.code
        # Now (this process must not serve it again) and after commit (a reader in between
        # may have kept the old answer from the database's committed state).
        public_answer_forget(code)
        transaction.on_commit(lambda: public_answer_forget(code))


@receiver(post_save, sender=Rating, dispatch_uid="dossiers.forget_public_answer_rating")
def forget_public_answer_on_rating(sender: Any, instance: Rating, **kwargs: Any) -> None:
    forget_public_answer(Dossier, instance.dossier)
