"""Who may read a document: the owning agency's officials, the person it concerns, or anyone
when it is published. Verification needs none of these: it shows facts, not content."""

from __future__ import annotations

from typing import Any

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm

from .models import Document


def can_read(user: Any, document: Document) -> bool:
    if document.access == Document.Access.PUBLIC:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    if can(user, Perm.DOSSIER_VIEW, document.agency):
        return True
    return document.access == Document.Access.SUBJECT and document.subject_id == user.pk


def can_sign(user: Any, document: Document) -> bool:
    return can(user, Perm.DOSSIER_APPROVE, document.agency)
