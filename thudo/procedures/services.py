"""Every write of the procedure catalog: publishing versions, keeping the search text current.

The catalog rows themselves are edited by administrators in the admin (back-office
configuration); publishing turns them into an immutable `ProcedureVersion`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from thudo.core.audit import audit_record

from .models import LifeEvent, Procedure, ProcedureVersion, Sector
from .selectors import procedure_latest_version, procedure_search_text
from .specs import procedure_spec


@transaction.atomic
def procedure_publish(*, procedure: Procedure, actor: Any = None) -> ProcedureVersion:
    """Snapshot the procedure's rules. A new version is made only when the rules changed since
    the latest one; otherwise the latest is returned unchanged."""
    # One publisher at a time per procedure, so version numbers never collide.
    Procedure.objects.select_for_update().filter(pk=procedure.pk).first()
    procedure_search_text_refresh(procedure=procedure)
    spec = procedure_spec(procedure)
    latest = procedure_latest_version(procedure)
    if latest is not None and latest.spec == spec:
        return latest
    version = ProcedureVersion.objects.create(
        procedure=procedure,
        number=(latest.number + 1) if latest else 1,
        spec=spec,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="procedure.publish",
        obj=procedure,
        from_state=f"v{latest.number}" if latest else "",
        to_state=f"v{version.number}",
        data={"version": version.number},
    )
    return version


def procedure_search_text_refresh(*, procedure: Procedure) -> str:
    """Recompute and store the folded search text (names, sector, life events)."""
    text = procedure_search_text(procedure)
    if text != procedure.search_text or procedure.pk is None:
        procedure.search_text = text
        if procedure.pk is not None:
            Procedure.objects.filter(pk=procedure.pk).update(search_text=text)
    return text


# The search text follows every save, wherever it comes from (admin, demo, shell).


@receiver(pre_save, sender=Procedure, dispatch_uid="procedures.search_text")
def _procedure_pre_save(sender: Any, instance: Procedure, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        instance.search_text = procedure_search_text(instance)


@receiver(
    m2m_changed, sender=Procedure.life_events.through, dispatch_uid="procedures.search_events"
)
def _life_events_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        procedure_search_text_refresh(procedure=instance)
        return
    procedures = Procedure.objects.select_related("sector")
    procedures = procedures.filter(pk__in=pk_set) if pk_set else procedures.none()
    for procedure in procedures:
        procedure_search_text_refresh(procedure=procedure)


@receiver(post_save, sender=Sector, dispatch_uid="procedures.search_sector")
@receiver(post_save, sender=LifeEvent, dispatch_uid="procedures.search_event")
def _names_changed(sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any) -> None:
    if created or raw:
        return
    for procedure in instance.procedures.select_related("sector"):
        procedure_search_text_refresh(procedure=procedure)
