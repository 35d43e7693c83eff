"""The report workflow: one table of allowed transitions, one check.

Each action names the statuses it may start from, the status it leads to (None: decided by the
service, e.g. a rating closes the report only when the resident is satisfied, or unchanged) and
who may take it: the reporter, or an official holding a permission in a handling unit. Services
call `transition_check` before they change anything; a wrong action raises `InvalidTransition`
(HTTP 409) and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.accounts.roles import Perm
from thudo.core.errors import InvalidTransition

from .models import ReportStatus

REPORTER = "reporter"
SYSTEM = "system"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str | None
    actor: str  # REPORTER, SYSTEM or a Perm code held in a handling unit
    label: object  # lazy translated verb shown on buttons and in the timeline


S = ReportStatus
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        Transition("submit", ("",), S.SUBMITTED, REPORTER, _("Send the report")),
        Transition("edit", (S.SUBMITTED,), None, REPORTER, _("Edit")),
        Transition("withdraw", (S.SUBMITTED,), S.WITHDRAWN, REPORTER, _("Withdraw")),
        Transition("accept", (S.SUBMITTED,), S.ACCEPTED, Perm.REPORT_HANDLE, _("Accept")),
        Transition(
            "transfer",
            (S.SUBMITTED, S.ACCEPTED),
            S.SUBMITTED,
            Perm.REPORT_HANDLE,
            _("Transfer to another unit"),
        ),
        Transition(
            "add_support", (S.ACCEPTED,), None, Perm.REPORT_HANDLE, _("Ask units to support")
        ),
        Transition("answer", (S.ACCEPTED,), S.ANSWERED, Perm.REPORT_HANDLE, _("Answer")),
        Transition("rate", (S.ANSWERED,), None, REPORTER, _("Rate the answer")),
        Transition("reopen", (S.ANSWERED,), S.SUBMITTED, REPORTER, _("Reopen")),
        Transition("close", (S.ANSWERED,), S.CLOSED, SYSTEM, _("Close")),
    ]
}
"""rate closes the report when the resident is satisfied and leaves it answered otherwise;
close is taken by the periodic job for answers left unrated (FEEDBACK_AUTO_CLOSE_DAYS)."""


def transition_check(report: Any, action: str) -> Transition:
    """The transition for `action` from the report's status, or InvalidTransition (409)."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InvalidTransition(format_lazy(_("Unknown action “{action}”."), action=action))
    status = report.status
    if status not in transition.sources:
        raise InvalidTransition(
            format_lazy(
                _("“{action}” is not allowed while the report is “{status}”."),
                action=transition.label,
                status=ReportStatus(status).label if status in ReportStatus.values else status,
            )
        )
    return transition


def actions_from(status: str) -> list[Transition]:
    """The actions the table allows from `status` (whoever may take them)."""
    return [t for t in TRANSITIONS.values() if status in t.sources]
