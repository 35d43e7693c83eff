"""The public look-up's finished answers: kept, served without a query, dropped on change."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from thudo.dossiers import services

from .factories import submit


def test_a_kept_answer_is_served_without_a_query_and_dropped_when_the_dossier_changes(
    client: Any, applicant: Any, procedure: Any, staff: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    url = reverse("api:dossier_lookup")
    first = client.get(url, {"code": dossier.code})
    assert first.status_code == 200 and first.json()["status"] == "submitted"

    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, {"code": dossier.code.lower()})
    assert again.content == first.content
    assert len(queries) == 0

    with django_capture_on_commit_callbacks(execute=True):
        services.dossier_receive(dossier=dossier, actor=staff.receiving)
    after = client.get(url, {"code": dossier.code})
    assert after.json()["status"] == "received"
    assert len(after.json()["timeline"]) == len(first.json()["timeline"]) + 1


def test_each_language_keeps_its_own_answer(client: Any, applicant: Any, procedure: Any) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    url = reverse("api:dossier_lookup")
    vi = client.get(url, {"code": dossier.code}).json()
    client.cookies["thudo_language"] = "en"
    en = client.get(url, {"code": dossier.code}).json()
    assert vi["procedure"] == "Đăng ký khai sinh" and en["procedure"] == "Birth registration"
    assert vi["status_label"] != en["status_label"]


def test_answers_naming_the_applicant_are_never_kept(
    client: Any, applicant: Any, procedure: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    url = reverse("api:dossier_lookup")
    proven = client.get(url, {"code": dossier.code, "personal_id": applicant.personal_id})
    assert proven.json()["applicant_name"] == applicant.full_name
    anonymous = client.get(url, {"code": dossier.code})
    assert anonymous.json()["applicant_name"] is None
    assert applicant.full_name not in anonymous.content.decode()
