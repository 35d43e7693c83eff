"""The citizen's pages: apply, my dossiers, a dossier, supplement, rating, receipt, result and
the public look-up."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from thudo.dossiers import services
from thudo.dossiers.models import Dossier, DossierFile, Rating, Status

from .factories import BIRTH_DATA, pdf_bytes, png_bytes, submit, upload


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def _post_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        **BIRTH_DATA,
        "delivery": "online",
        "idempotency_key": "k-1",
        "action": "submit",
        "paper-to-khai": upload("to-khai.png", png_bytes(), "image/png"),
        "paper-giay-chung-sinh": upload("chung-sinh.pdf", pdf_bytes(), "application/pdf"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _apply_url(procedure: Any) -> str:
    return reverse("dossiers:apply", args=[procedure.code])


def _signed_in(client: Any, user: Any) -> Any:
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- apply ---------------------------------------------------------------------------------


def test_apply_page_shows_the_form_papers_ward_and_a_fresh_key(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    response = _signed_in(client, applicant).get(_apply_url(procedure))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="child_name"' in html
    assert 'name="paper-to-khai"' in html
    assert 'accept=".pdf,application/pdf,.jpg,image/jpeg,.png,image/png"' in html
    assert 'name="paper-giay-chung-sinh"' in html and 'aria-required="true"' in html
    # The receiving ward defaults to the applicant's own.
    assert re.search(rf'<option value="{ward_agency.pk}" selected>', html)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', html)
    assert key is not None
    again = client.get(_apply_url(procedure)).content.decode()
    assert key.group(1) not in again


def test_apply_needs_a_signed_in_citizen(
    client: Any, procedure: Any, staff: Any, ward_agency: Any
) -> None:
    response = client.get(_apply_url(procedure))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    client.force_login(staff.receiving)
    assert client.get(_apply_url(procedure)).status_code == 403


def test_unknown_procedure_is_404(client: Any, applicant: Any) -> None:
    assert _signed_in(client, applicant).get("/dossiers/new/0.000000/").status_code == 404


def test_submit_with_good_data_makes_the_dossier_and_redirects(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    response = _signed_in(client, applicant).post(_apply_url(procedure), _post_data())
    dossier = Dossier.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dossiers:detail", args=[dossier.public_id])
    assert dossier.status == Status.SUBMITTED
    assert dossier.code and dossier.code.startswith("HN-00070-")
    assert dossier.receiving_agency == ward_agency
    assert dossier.files.count() == 2
    page = client.get(response["Location"])
    html = page.content.decode()
    assert dossier.code in html and "Appointment for the result" in html
    assert "has been submitted" in html


def test_bad_data_is_400_with_every_error_and_leaves_nothing(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    response = _signed_in(client, applicant).post(
        _apply_url(procedure),
        _post_data(
            child_name="",
            birth_date="01/06/2026",
            **{
                "paper-giay-chung-sinh": upload("x.pdf", b"%PDF-1.4 broken", "application/pdf"),
                "paper-to-khai": None,
            },
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'href="#id_child_name"' in html  # the summary links to each field
    assert 'href="#id_birth_date"' in html
    assert 'href="#id_paper-to-khai"' in html
    assert 'href="#id_paper-giay-chung-sinh"' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_paper-to-khai_helptext id_paper-to-khai_error"' in html
    assert Dossier.objects.count() == 0
    assert DossierFile.objects.count() == 0


def test_a_file_of_the_wrong_type_is_named(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    response = _signed_in(client, applicant).post(
        _apply_url(procedure),
        _post_data(**{"paper-giay-chung-sinh": upload("a.png", png_bytes(), "image/png")}),
    )
    assert response.status_code == 400
    assert 'id="id_paper-giay-chung-sinh_error"' in response.content.decode()
    assert not Dossier.objects.exists()


def test_resubmitting_the_same_page_gives_one_dossier(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    _signed_in(client, applicant)
    first = client.post(_apply_url(procedure), _post_data())
    second = client.post(_apply_url(procedure), _post_data())
    assert Dossier.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_draft_is_saved_without_papers_and_submitted_later(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    _signed_in(client, applicant)
    response = client.post(
        _apply_url(procedure),
        {"child_name": "Nguyễn Minh Anh", "action": "draft", "delivery": "post"},
    )
    draft = Dossier.objects.get()
    assert draft.status == Status.DRAFT and draft.code is None
    assert draft.data["child_name"] == "Nguyễn Minh Anh"
    assert response["Location"].endswith(f"?draft={draft.public_id}")
    page = client.get(response["Location"]).content.decode()
    assert 'value="Nguyễn Minh Anh"' in page
    assert f'name="draft" value="{draft.public_id}"' in page
    mine = client.get(reverse("dossiers:mine")).content.decode()
    assert f"?draft={draft.public_id}" in mine

    first = client.post(_apply_url(procedure), _post_data(draft=str(draft.public_id)))
    again = client.post(_apply_url(procedure), _post_data(draft=str(draft.public_id)))
    assert first.status_code == again.status_code == 302
    draft.refresh_from_db()
    assert Dossier.objects.count() == 1
    assert draft.status == Status.SUBMITTED and draft.code
    # A stale "continue" link now leads to the dossier.
    stale = client.get(f"{_apply_url(procedure)}?draft={draft.public_id}")
    assert stale["Location"] == reverse("dossiers:detail", args=[draft.public_id])
    other_key = client.post(
        _apply_url(procedure), _post_data(draft=str(draft.public_id), idempotency_key="k-2")
    )
    assert other_key.status_code == 409


def test_someone_elses_draft_is_404(
    client: Any, applicant: Any, other_citizen: Any, procedure: Any, ward_agency: Any
) -> None:
    draft = services.dossier_draft_save(procedure=procedure, applicant=other_citizen, data={})
    response = _signed_in(client, applicant).get(f"{_apply_url(procedure)}?draft={draft.public_id}")
    assert response.status_code == 404


# --- my dossiers and one dossier -----------------------------------------------------------


def test_my_dossiers_lists_mine_newest_first(
    client: Any, applicant: Any, other_citizen: Any, procedure: Any, ward_agency: Any
) -> None:
    first = submit(procedure=procedure, applicant=applicant)
    second = submit(procedure=procedure, applicant=applicant)
    theirs = submit(procedure=procedure, applicant=other_citizen)
    html = _signed_in(client, applicant).get(reverse("dossiers:mine")).content.decode()
    assert html.index(second.code) < html.index(first.code)
    assert theirs.code not in html


def test_another_citizen_gets_404_on_my_dossier(
    client: Any, applicant: Any, other_citizen: Any, procedure: Any, ward_agency: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    _signed_in(client, other_citizen)
    for name in ("detail", "receipt", "result"):
        assert client.get(reverse(f"dossiers:{name}", args=[dossier.public_id])).status_code == 404
    response = client.post(reverse("dossiers:rate", args=[dossier.public_id]), {})
    assert response.status_code == 404


def test_receipt_is_issued_on_demand(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    response = _signed_in(client, applicant).get(
        reverse("dossiers:receipt", args=[dossier.public_id])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert dossier.documents.filter(kind="receipt").count() == 1


# --- supplement and rating ------------------------------------------------------------------


def _supplement_requested(dossier: Any, staff: Any) -> Any:
    dossier = services.dossier_receive(dossier=dossier, actor=staff.receiving)
    return services.dossier_request_supplement(
        dossier=dossier,
        actor=staff.receiving,
        missing=[{"name": "Giấy chứng sinh", "note": "Bản rõ nét"}],
        note="Xin bổ sung",
    )


def test_supplement_through_the_page(
    client: Any, applicant: Any, procedure: Any, staff: Any
) -> None:
    dossier = _supplement_requested(submit(procedure=procedure, applicant=applicant), staff)
    _signed_in(client, applicant)
    page = client.get(reverse("dossiers:detail", args=[dossier.public_id])).content.decode()
    assert "Giấy chứng sinh" in page and "Bản rõ nét" in page
    assert reverse("dossiers:supplement", args=[dossier.public_id]) in page
    form_02 = dossier.documents.get(kind="supplement_request").document
    download = reverse("documents:download", args=[form_02.public_id])
    assert download in page
    assert client.get(download).status_code == 200

    url = reverse("dossiers:supplement", args=[dossier.public_id])
    empty = client.post(url, {"note": ""})
    assert empty.status_code == 400
    bad = client.post(url, {"paper-giay-chung-sinh": upload("a.png", png_bytes(), "image/png")})
    assert bad.status_code == 400
    assert 'href="#id_paper-giay-chung-sinh"' in bad.content.decode()

    response = client.post(
        url,
        {
            "note": "Đã bổ sung",
            "paper-giay-chung-sinh": upload("cs.pdf", pdf_bytes(), "application/pdf"),
        },
    )
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert dossier.status == Status.RECEIVED
    assert dossier.files.filter(round=1).count() == 1
    again = client.post(url, {"note": "Lần nữa"})
    assert again.status_code == 409  # not waiting for a supplement any more


def _returned(dossier: Any, staff: Any, client: Any) -> Any:
    dossier = services.dossier_receive(dossier=dossier, actor=staff.receiving)
    dossier = services.dossier_start_processing(dossier=dossier, actor=staff.processing)
    dossier = services.dossier_forward(dossier=dossier, actor=staff.processing)
    dossier = services.dossier_approve(dossier=dossier, actor=staff.approver)
    dossier = services.dossier_sign_result(dossier=dossier, actor=staff.approver)
    assert dossier.status == Status.SIGNED
    response = client.get(reverse("dossiers:result", args=[dossier.public_id]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    dossier.refresh_from_db()
    assert dossier.status == Status.RETURNED
    return dossier


def test_result_download_returns_it_and_the_rating_form_follows(
    client: Any, applicant: Any, procedure: Any, staff: Any, signing: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    _signed_in(client, applicant)
    page = client.get(reverse("dossiers:detail", args=[dossier.public_id])).content.decode()
    assert 'name="attitude"' not in page
    dossier = _returned(dossier, staff, client)
    page = client.get(reverse("dossiers:detail", args=[dossier.public_id])).content.decode()
    assert 'name="attitude"' in page and "<legend" in page

    url = reverse("dossiers:rate", args=[dossier.public_id])
    incomplete = client.post(url, {"attitude": "5"})
    assert incomplete.status_code == 400
    assert 'href="#id_timeliness_0"' in incomplete.content.decode()
    assert not Rating.objects.exists()

    response = client.post(
        url, {"attitude": "5", "timeliness": "4", "contacts": "5", "clarity": "3", "comment": "Tốt"}
    )
    assert response.status_code == 302
    rating = Rating.objects.get(dossier=dossier)
    assert (rating.attitude, rating.timeliness, rating.contacts, rating.clarity) == (5, 4, 5, 3)
    twice = client.post(url, {"attitude": "1", "timeliness": "1", "contacts": "1", "clarity": "1"})
    assert twice.status_code == 409
    assert Rating.objects.get(dossier=dossier).attitude == 5


def test_rating_before_return_is_refused(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    response = _signed_in(client, applicant).post(
        reverse("dossiers:rate", args=[dossier.public_id]),
        {"attitude": "5", "timeliness": "5", "contacts": "5", "clarity": "5"},
    )
    assert response.status_code == 409
    assert not Rating.objects.exists()


# --- public look-up -------------------------------------------------------------------------


def test_lookup_shows_progress_but_no_personal_data(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    url = reverse("dossiers:lookup")
    client.cookies["thudo_language"] = "en"
    assert client.get(url).status_code == 200

    response = client.get(url, {"code": dossier.code.lower()})
    html = response.content.decode()
    assert response.status_code == 200
    assert dossier.code in html and "Submitted" in html
    assert applicant.full_name not in html
    assert applicant.personal_id not in html
    assert BIRTH_DATA["child_name"] not in html

    wrong = client.get(url, {"code": dossier.code, "personal_id": "001190999999"})
    assert applicant.full_name not in wrong.content.decode()
    assert "does not match" in wrong.content.decode()

    mine = client.get(url, {"code": dossier.code, "personal_id": applicant.personal_id})
    assert applicant.full_name in mine.content.decode()
    assert mine["Cache-Control"] == "private, no-store"


def test_lookup_of_an_unknown_code_is_404(client: Any, db: Any) -> None:
    client.cookies["thudo_language"] = "en"
    response = client.get(reverse("dossiers:lookup"), {"code": "HN-00070-260101-9999"})
    assert response.status_code == 404
    assert "No dossier has this code" in response.content.decode()


def test_my_dossiers_costs_a_fixed_number_of_queries(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    _signed_in(client, applicant)
    submit(procedure=procedure, applicant=applicant)
    client.get(reverse("dossiers:mine"))  # warm the session and caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get(reverse("dossiers:mine"))
    for _ in range(4):
        submit(procedure=procedure, applicant=applicant)
    with CaptureQueriesContext(connection) as five:
        client.get(reverse("dossiers:mine"))
    assert len(five) == len(one)


def test_an_official_opening_the_citizen_page_goes_to_the_workspace(
    client: Any, applicant: Any, procedure: Any, staff: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    client.force_login(staff.receiving)
    response = client.get(reverse("dossiers:detail", args=[dossier.public_id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("dossiers:work", args=[dossier.public_id])
