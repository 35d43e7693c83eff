"""The dossier workflow: one table of allowed transitions, one check.

Each action names the statuses it may start from, the status it leads to (None: the status does
not change, e.g. a hand-off or an apology), and who may take it: the applicant, or an official
holding a permission in the agency that holds the dossier. Services call `transition_check`
before they change anything; a wrong action raises `InvalidTransition` (HTTP 409) and nothing
is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.accounts.roles import Perm
from thudo.core.errors import InvalidTransition

from .models import Status

APPLICANT = "applicant"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str | None
    actor: str  # APPLICANT or a Perm code held in the dossier's agency
    label: object  # lazy translated verb shown on buttons and in the timeline


S = Status
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        Transition("submit", (S.DRAFT,), S.SUBMITTED, APPLICANT, _("Submit")),
        Transition("receive", (S.SUBMITTED,), S.RECEIVED, Perm.DOSSIER_RECEIVE, _("Receive")),
        Transition("refuse", (S.SUBMITTED,), S.REFUSED, Perm.DOSSIER_RECEIVE, _("Refuse")),
        Transition(
            "request_supplement",
            (S.SUBMITTED, S.RECEIVED, S.PROCESSING),
            S.SUPPLEMENT_REQUESTED,
            Perm.DOSSIER_VIEW,  # the acting step's role is checked by the service
            _("Request a supplement"),
        ),
        Transition(
            "supplement", (S.SUPPLEMENT_REQUESTED,), None, APPLICANT, _("Send the supplement")
        ),
        Transition(
            "start_processing",
            (S.RECEIVED,),
            S.PROCESSING,
            Perm.DOSSIER_PROCESS,
            _("Start processing"),
        ),
        Transition("forward", (S.PROCESSING,), S.PROCESSING, Perm.DOSSIER_PROCESS, _("Next step")),
        Transition(
            "hand_off",
            (S.PROCESSING,),
            S.PROCESSING,
            Perm.DOSSIER_PROCESS,
            _("Hand off to another agency"),
        ),
        Transition("approve", (S.PROCESSING,), S.APPROVED, Perm.DOSSIER_APPROVE, _("Approve")),
        Transition("reject", (S.PROCESSING,), S.REJECTED, Perm.DOSSIER_APPROVE, _("Reject")),
        Transition(
            "sign_result", (S.APPROVED,), S.SIGNED, Perm.DOSSIER_APPROVE, _("Sign the result")
        ),
        Transition(
            "return_result",
            (S.SIGNED, S.REJECTED),
            S.RETURNED,
            Perm.DOSSIER_RECEIVE,
            _("Return the result"),
        ),
        Transition(
            "apologise",
            (S.SUBMITTED, S.RECEIVED, S.PROCESSING, S.APPROVED),
            None,
            Perm.DOSSIER_VIEW,
            _("Apologise and set a new appointment"),
        ),
        Transition("close", (S.RETURNED,), S.CLOSED, Perm.DOSSIER_RECEIVE, _("Close")),
    ]
}
"""supplement returns to `Dossier.resume_status`; a signed result for online delivery is
returned by the applicant's first download (`return_result` by the system)."""


def transition_check(action: str, status: str) -> Transition:
    """The transition for `action` from `status`, or InvalidTransition."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InvalidTransition(format_lazy(_("Unknown action “{action}”."), action=action))
    if status not in transition.sources:
        raise InvalidTransition(
            format_lazy(
                _("“{action}” is not allowed while the dossier is “{status}”."),
                action=transition.label,
                status=Status(status).label,
            )
        )
    return transition


def actions_from(status: str) -> list[Transition]:
    """The actions the table allows from `status` (whoever may take them)."""
    return [t for t in TRANSITIONS.values() if status in t.sources]
