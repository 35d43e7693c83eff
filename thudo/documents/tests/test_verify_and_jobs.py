"""Verification as people and systems use it, batch signing, and the commands."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from thudo.accounts import services as accounts
from thudo.accounts.roles import Role
from thudo.documents import pki, services
from thudo.documents.models import SigningJob
from thudo.documents.tests.broken import broken_files

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def signed(ward_agency: Any, plain_pdf: bytes, make_official: Any, citizen: Any) -> Any:
    pki.pki_init(agencies=[ward_agency])
    approver = make_official(Role.APPROVER, ward_agency)
    doc = services.document_create(
        kind="result",
        title="Giấy xác nhận",
        agency=ward_agency,
        pdf=plain_pdf,
        subject=citizen,
        reference="00070-260101-0001",
    )
    version = services.document_sign(document=doc, actor=approver, level="B-T")
    with version.file.open("rb") as fh:
        return doc, fh.read(), approver


def test_page_verifies_an_upload_and_says_it_is_registered(client, signed) -> None:
    doc, data, _approver = signed
    r = client.post("/verify/", {"file": SimpleUploadedFile("kq.pdf", data, "application/pdf")})
    assert r.status_code == 200
    report = r.context["report"]
    assert report["verdict"] == "valid"
    assert report["registered"]["document"] == str(doc.public_id)
    assert report["registered"]["is_latest"]
    page = r.content.decode()
    assert 'data-verdict="valid"' in page and "Ủy ban nhân dân Phường Hoàn Kiếm" in page


def test_page_says_when_a_file_was_changed(client, signed) -> None:
    _doc, data, _approver = signed
    tampered = bytearray(data)
    tampered[len(data) // 3] ^= 0x01
    r = client.post("/verify/", {"file": SimpleUploadedFile("kq.pdf", bytes(tampered))})
    assert r.context["report"]["verdict"] == "invalid"
    assert r.context["report"]["registered"] is None


BROKEN = broken_files()


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_page_gives_a_clear_error_for_every_broken_file(client, name) -> None:
    """The generated set of broken and hostile files: a clear error, never a 500 or a hang."""
    r = client.post("/verify/", {"file": SimpleUploadedFile("x.pdf", BROKEN[name])})
    assert r.status_code == 422
    assert r.context["report"] is None
    assert r.context["form"].errors["file"]  # which field, and why


def test_qr_page_shows_facts_without_signing_in(client, signed) -> None:
    doc, _data, _approver = signed
    r = client.get(f"/verify/{doc.public_id}/")
    assert r.status_code == 200 and r.context["report"]["verdict"] == "valid"
    assert client.get("/verify/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_api_verify_upload_and_registered_facts(client, signed) -> None:
    doc, data, _approver = signed
    r = client.post("/api/documents/verify", {"file": SimpleUploadedFile("a.pdf", data)})
    assert r.status_code == 200 and r.json()["verdict"] == "valid" and r.json()["pages"] == 1
    r = client.post(
        "/api/documents/verify",
        {"file": SimpleUploadedFile("a.pdf", b"hello")},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert r.status_code == 422 and "file" in r.json()["fields"]
    r = client.get(f"/api/documents/{doc.public_id}/verification")
    assert r.json()["registered"]["version"] == 2


def test_batch_signing_job_reports_progress(
    client, ward_agency, plain_pdf, signed, django_capture_on_commit_callbacks
) -> None:
    _doc, _data, approver = signed
    docs = [
        services.document_create(
            kind="receipt", title=f"Phiếu {i}", agency=ward_agency, pdf=plain_pdf
        )
        for i in range(3)
    ]
    _t, raw = accounts.api_token_create(user=approver, name="t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "content_type": "application/json"}
    body = {"agency": ward_agency.code, "documents": [str(d.public_id) for d in docs]}
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/api/documents/sign-jobs", body, **auth)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    job = SigningJob.objects.get(pk=r.json()["id"])  # tasks run eagerly in tests
    assert (job.status, job.done, job.failed, job.total) == ("done", 3, 0, 3)
    progress = client.get(f"/api/documents/sign-jobs/{job.pk}", **auth).json()
    assert progress["done"] == 3
    assert all(d.versions.count() == 2 for d in docs)


def test_batch_signing_records_failures_and_resumes(
    ward_agency, plain_pdf, signed, django_capture_on_commit_callbacks
) -> None:
    _doc, _data, approver = signed
    docs = [
        services.document_create(
            kind="receipt", title=f"Phiếu {i}", agency=ward_agency, pdf=plain_pdf
        )
        for i in range(2)
    ]
    credential = pki.credential_for(ward_agency).record
    pki.credential_revoke(credential=credential, reason="key_compromise", actor=approver)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.signing_job_start(agency=ward_agency, documents=docs, actor=approver)
    job.refresh_from_db()
    assert job.status == "failed" and job.failed == 2
    assert job.errors[0]["code"] == "credential_revoked"
    services.signing_job_run(job_id=job.pk)  # delivered again: nothing signed twice
    assert all(d.versions.count() == 1 for d in docs)


def test_thudo_verify_command_exit_codes(signed, tmp_path) -> None:
    _doc, data, _approver = signed
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(data)
    bad.write_bytes(data[: len(data) // 2])
    out = io.StringIO()
    call_command("verify", str(good), stdout=out)
    assert "VALID" in out.getvalue() and "registered: Giấy xác nhận v2" in out.getvalue()
    with pytest.raises(SystemExit) as exc:
        call_command("verify", str(bad), stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.code == 1


def test_keys_command_inits_and_lists(ward_agency) -> None:
    out = io.StringIO()
    call_command("keys", "init", stdout=out)
    call_command("keys", "list", stdout=out)
    text = out.getvalue()
    assert "root" in text and "agency" in text and "Phường Hoàn Kiếm" in text


def _with_indirect_annotations(pdf: bytes) -> bytes:
    """Page 1 gets an indirect /Annots array holding a radio-button widget whose /FT sits on
    an indirect /Parent: ordinary in forms, and once a reason signing failed."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    parent = writer._add_object(
        DictionaryObject(
            {NameObject("/FT"): NameObject("/Btn"), NameObject("/T"): NameObject("/choice")}
        )
    )
    widget = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Widget"),
                NameObject("/Parent"): parent,
                NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (50, 50, 70, 70)]),
            }
        )
    )
    writer.pages[0][NameObject("/Annots")] = writer._add_object(ArrayObject([widget]))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdfs_with_indirect_annotations_can_be_signed(ward_agency, plain_pdf, signed) -> None:
    _doc, _data, approver = signed
    doc = services.document_create(
        kind="result",
        title="Biểu mẫu",
        agency=ward_agency,
        pdf=_with_indirect_annotations(plain_pdf),
    )
    version = services.document_sign(document=doc, actor=approver, level="B-T")
    from thudo.documents.verification import verify_pdf

    assert verify_pdf(version.file.read()).verdict == "valid"


def test_an_unexpected_error_is_recorded_and_the_job_finishes(
    ward_agency, plain_pdf, signed, django_capture_on_commit_callbacks
) -> None:
    from unittest import mock

    _doc, _data, approver = signed
    docs = [
        services.document_create(
            kind="receipt", title=f"Phiếu {i}", agency=ward_agency, pdf=plain_pdf
        )
        for i in range(2)
    ]
    real = services.document_sign
    calls = {"n": 0}

    def flaky(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("a library broke")
        return real(**kwargs)

    with (
        mock.patch.object(services, "document_sign", side_effect=flaky),
        django_capture_on_commit_callbacks(execute=True),
    ):
        job = services.signing_job_start(agency=ward_agency, documents=docs, actor=approver)
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("failed", 1, 1)
    assert job.errors[0]["code"] == "internal_error"
    assert sorted(job.processed) == sorted(d.pk for d in docs)


def test_qr_page_of_a_document_without_a_file_is_a_404(client, ward_agency) -> None:
    from thudo.documents.models import Document

    bare = Document.objects.create(kind="other", title="Chưa có tệp", agency=ward_agency)
    assert client.get(f"/verify/{bare.public_id}/").status_code == 404
