"""Officials' roles per agency, and the permissions that follow from them (data, not code)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    RECEIVING_OFFICER = "receiving_officer", _("Receiving officer")
    PROCESSING_OFFICER = "processing_officer", _("Processing officer")
    APPROVER = "approver", _("Approver")
    AGENCY_ADMIN = "agency_admin", _("Agency administrator")
    MONITORING_OFFICER = "monitoring_officer", _("Monitoring officer")
    AUDITOR = "auditor", _("Auditor")
    COMMUNICATIONS_OFFICER = (
        "communications_officer",
        _("Communications officer (moderation and city alerts)"),
    )
    DATA_STEWARD = "data_steward", _("Data steward (exchange access rights and objections)")
    FOOD_SAFETY_OFFICER = "food_safety_officer", _("Food safety officer (traceability, recalls)")
    TRANSIT_OPERATOR = "transit_operator", _("Transit operator (buses, timetables, alerts)")


class Perm:
    """Permission codes. Domains check these, never roles directly."""

    WORKSPACE = "workspace.view"
    DOSSIER_RECEIVE = "dossier.receive"
    DOSSIER_PROCESS = "dossier.process"
    DOSSIER_APPROVE = "dossier.approve"
    DOSSIER_VIEW = "dossier.view"
    REPORT_HANDLE = "report.handle"
    AGENCY_MANAGE = "agency.manage"
    STAFF_MANAGE = "staff.manage"
    DASHBOARD_VIEW = "dashboard.view"
    MONITORING_REPORT = "monitoring.report"
    AUDIT_VIEW = "audit.view"
    REPORT_MODERATE = "report.moderate"
    ALERT_SEND = "alert.send"
    EXCHANGE_MANAGE = "exchange.manage"  # grant/revoke access to the agency's services; objections
    EXCHANGE_OPERATE = "exchange.operate"  # the node's operations page and metrics
    TRACE_VIEW = "trace.view"  # the agriculture department's traceability view
    TRACE_RECALL = "trace.recall"  # recall a batch, lift a recall
    TRANSIT_OPERATE = "transit.operate"  # the control view, vehicles, devices, alerts, timetables


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.RECEIVING_OFFICER: frozenset(
        {Perm.WORKSPACE, Perm.DOSSIER_RECEIVE, Perm.DOSSIER_VIEW, Perm.REPORT_HANDLE}
    ),
    Role.PROCESSING_OFFICER: frozenset(
        {Perm.WORKSPACE, Perm.DOSSIER_PROCESS, Perm.DOSSIER_VIEW, Perm.REPORT_HANDLE}
    ),
    Role.APPROVER: frozenset(
        {
            Perm.WORKSPACE,
            Perm.DOSSIER_APPROVE,
            Perm.DOSSIER_VIEW,
            Perm.DASHBOARD_VIEW,
            Perm.REPORT_HANDLE,
        }
    ),
    Role.AGENCY_ADMIN: frozenset(
        {
            Perm.WORKSPACE,
            Perm.AGENCY_MANAGE,
            Perm.STAFF_MANAGE,
            Perm.DOSSIER_VIEW,
            Perm.EXCHANGE_MANAGE,
            Perm.EXCHANGE_OPERATE,
        }
    ),
    Role.MONITORING_OFFICER: frozenset(
        {Perm.WORKSPACE, Perm.DASHBOARD_VIEW, Perm.MONITORING_REPORT}
    ),
    Role.AUDITOR: frozenset(
        {Perm.WORKSPACE, Perm.AUDIT_VIEW, Perm.DASHBOARD_VIEW, Perm.EXCHANGE_OPERATE}
    ),
    Role.COMMUNICATIONS_OFFICER: frozenset(
        {Perm.WORKSPACE, Perm.REPORT_MODERATE, Perm.ALERT_SEND, Perm.DASHBOARD_VIEW}
    ),
    Role.DATA_STEWARD: frozenset({Perm.WORKSPACE, Perm.EXCHANGE_MANAGE, Perm.EXCHANGE_OPERATE}),
    Role.FOOD_SAFETY_OFFICER: frozenset(
        {Perm.WORKSPACE, Perm.TRACE_VIEW, Perm.TRACE_RECALL, Perm.DASHBOARD_VIEW}
    ),
    Role.TRANSIT_OPERATOR: frozenset({Perm.WORKSPACE, Perm.TRANSIT_OPERATE, Perm.DASHBOARD_VIEW}),
}
