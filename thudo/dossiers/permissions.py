"""Who may see a dossier and who may take each transition.

`workflow.transition_check` says whether an action is allowed from the dossier's status; these
functions say whether this user may take it. The applicant takes the applicant's actions; an
official needs the transition's permission in the right agency:

- receive, refuse, return the result, close: in the receiving agency (the one-stop desk);
- start processing, next step, hand-off, approve, reject, sign: in the agency holding it;
- request a supplement, apologise: anyone who may view the dossier in the holding agency and
  acts for its current step (holds that step's role there), or a receiving officer of the
  receiving agency (an approver of the holding agency may also apologise).
"""

from __future__ import annotations

from typing import Any

from thudo.accounts.permissions import agencies_where, can
from thudo.accounts.roles import Perm, Role

from .models import Dossier, Status
from .workflow import APPLICANT, Transition

STEP_PERMISSIONS: dict[str, str] = {
    Role.RECEIVING_OFFICER: Perm.DOSSIER_RECEIVE,
    Role.PROCESSING_OFFICER: Perm.DOSSIER_PROCESS,
    Role.APPROVER: Perm.DOSSIER_APPROVE,
}
"""The permission that lets an official act for a step whose role is the key."""

AT_RECEIVING_AGENCY = frozenset({"receive", "refuse", "return_result", "close"})
BY_STEP = frozenset({"request_supplement", "apologise"})


def _authenticated(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and bool(
        getattr(user, "is_active", False)
    )


def dossier_steps(dossier: Dossier) -> list[dict[str, Any]]:
    steps = (dossier.version.spec or {}).get("steps") or []
    return [s for s in steps if isinstance(s, dict)]


def current_step(dossier: Dossier) -> dict[str, Any] | None:
    steps = dossier_steps(dossier)
    if not steps:
        return None
    return steps[min(dossier.step, len(steps) - 1)]


def current_role(dossier: Dossier) -> str:
    """The role that acts now: reception before processing, then the step's role."""
    if dossier.status in (Status.SUBMITTED, Status.RECEIVED):
        return Role.RECEIVING_OFFICER
    step = current_step(dossier)
    return str(step.get("role")) if step else Role.PROCESSING_OFFICER


def is_last_step(dossier: Dossier) -> bool:
    return dossier.step >= len(dossier_steps(dossier)) - 1


def step_allows(dossier: Dossier, action: str) -> bool:
    """Conditions of the procedure's steps beyond the status table: a forward needs a next
    step; approve and reject come at the approver's step (or the last one)."""
    if action == "forward":
        return not is_last_step(dossier)
    if action in ("approve", "reject"):
        return current_role(dossier) == Role.APPROVER or is_last_step(dossier)
    return True


def can_view(user: Any, dossier: Dossier) -> bool:
    """The applicant, or an official with DOSSIER_VIEW in the holding or receiving agency."""
    if not _authenticated(user):
        return False
    if dossier.applicant_id == user.pk:
        return True
    return can(user, Perm.DOSSIER_VIEW, dossier.agency) or can(
        user, Perm.DOSSIER_VIEW, dossier.receiving_agency
    )


def can_act(user: Any, dossier: Dossier, transition: Transition) -> bool:
    """Whether `user` may take `transition` on `dossier` (the status is checked elsewhere)."""
    if not _authenticated(user):
        return False
    if transition.actor == APPLICANT:
        return dossier.applicant_id == user.pk
    action = transition.action
    if action in AT_RECEIVING_AGENCY:
        return can(user, transition.actor, dossier.receiving_agency)
    if action in BY_STEP:
        if can(user, Perm.DOSSIER_RECEIVE, dossier.receiving_agency):
            return True
        if not can(user, Perm.DOSSIER_VIEW, dossier.agency):
            return False
        step_perm = STEP_PERMISSIONS.get(current_role(dossier))
        if step_perm and can(user, step_perm, dossier.agency):
            return True
        return action == "apologise" and can(user, Perm.DOSSIER_APPROVE, dossier.agency)
    if action == "forward":
        step_perm = STEP_PERMISSIONS.get(current_role(dossier), Perm.DOSSIER_PROCESS)
        return can(user, transition.actor, dossier.agency) and can(user, step_perm, dossier.agency)
    return can(user, transition.actor, dossier.agency)


def official_agency_ids(user: Any) -> list[int]:
    """Agencies whose dossiers the official may see."""
    return agencies_where(user, Perm.DOSSIER_VIEW)
