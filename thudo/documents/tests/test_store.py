"""The document store: versions, digests, who may read, no orphan files."""

from __future__ import annotations

import hashlib
from unittest import mock

import pytest
from django.core.files.storage import default_storage

from thudo.accounts.roles import Role
from thudo.accounts.testing import login_verified
from thudo.core.errors import PermissionDenied, ValidationFailed
from thudo.core.models import AuditEvent
from thudo.documents import selectors, services
from thudo.documents.models import Document, DocumentVersion
from thudo.documents.permissions import can_read

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


def _doc(agency, pdf, **kw):
    return services.document_create(
        kind=kw.pop("kind", "result"), title="Giấy xác nhận", agency=agency, pdf=pdf, **kw
    )


def test_create_stores_file_digest_retention_and_audit(ward_agency, plain_pdf, citizen) -> None:
    doc = _doc(ward_agency, plain_pdf, subject=citizen, reference="00070-260101-0001")
    version = doc.versions.get()
    assert version.number == 1 and version.size == len(plain_pdf)
    assert version.sha256 == hashlib.sha256(plain_pdf).hexdigest()
    with version.file.open("rb") as fh:
        assert fh.read() == plain_pdf
    assert doc.retain_until is None  # results are kept permanently
    receipt = _doc(ward_agency, plain_pdf, kind="receipt")
    assert receipt.retain_until is not None
    assert AuditEvent.objects.filter(action="document.create", object_id=str(doc.pk)).exists()


def test_bad_input_names_fields_and_writes_nothing(ward_agency) -> None:
    before = (Document.objects.count(), DocumentVersion.objects.count())
    with pytest.raises(ValidationFailed) as exc:
        services.document_create(
            kind="poem", title=" ", agency=ward_agency, pdf=b"hello", access="everyone"
        )
    assert set(exc.value.fields) == {"kind", "title", "file", "access"}
    assert (Document.objects.count(), DocumentVersion.objects.count()) == before


def test_a_failed_row_write_leaves_no_file(ward_agency, plain_pdf, tmp_path) -> None:
    with (
        mock.patch.object(DocumentVersion, "save", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        _doc(ward_agency, plain_pdf)
    stored = list((tmp_path / "media").rglob("*.pdf")) if (tmp_path / "media").exists() else []
    assert stored == []
    assert not Document.objects.exists()


def test_who_may_read(ward_agency, plain_pdf, citizen, make_official, make_agency, hanoi) -> None:
    from datetime import date

    from thudo.accounts import services as accounts

    other = accounts.citizen_create(
        personal_id="001190000002",
        full_name="Lê Thị Hoa",
        sex="female",
        birth_date=date(1990, 1, 1),
    )
    doc = _doc(ward_agency, plain_pdf, subject=citizen)
    clerk = make_official(Role.PROCESSING_OFFICER, ward_agency)
    stranger = make_official(Role.PROCESSING_OFFICER, make_agency("HN-00004"))
    assert can_read(citizen, doc) and can_read(clerk, doc)
    assert not can_read(other, doc) and not can_read(stranger, doc)
    assert list(selectors.documents_visible_to(citizen)) == [doc]
    assert list(selectors.documents_visible_to(other)) == []
    with pytest.raises(PermissionDenied):
        selectors.document_get(user=other, public_id=doc.public_id)
    published = _doc(ward_agency, plain_pdf, access="public")
    assert can_read(None, published)


def test_download_checks_permission(client, ward_agency, plain_pdf, citizen, make_official) -> None:
    doc = _doc(ward_agency, plain_pdf, subject=citizen)
    url = f"/documents/{doc.public_id}/"
    assert client.get(url).status_code == 302  # sign in first
    client.force_login(citizen)
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == plain_pdf
    login_verified(client, make_official())
    assert client.get(url).status_code == 403


def test_api_lists_only_readable_documents(client, ward_agency, plain_pdf, citizen) -> None:
    from thudo.accounts import services as accounts

    doc = _doc(ward_agency, plain_pdf, subject=citizen, reference="R-1")
    _doc(ward_agency, plain_pdf)  # someone else's
    _t, raw = accounts.api_token_create(user=citizen, name="t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    rows = client.get("/api/documents/", **auth).json()
    assert [r["id"] for r in rows] == [str(doc.public_id)]
    assert rows[0]["verify_url"].endswith(f"/verify/{doc.public_id}/")
    r = client.get(f"/api/documents/{doc.public_id}/file", **auth)
    assert r.status_code == 200 and b"".join(r.streaming_content) == plain_pdf
    assert client.get(f"/api/documents/{doc.public_id}/file").status_code == 401


def test_signing_needs_an_approver(ward_agency, plain_pdf, make_official) -> None:
    doc = _doc(ward_agency, plain_pdf)
    clerk = make_official(Role.RECEIVING_OFFICER, ward_agency)
    with pytest.raises(PermissionDenied):
        services.document_sign(document=doc, actor=clerk)
    assert doc.versions.count() == 1
    assert not default_storage.exists("nothing")


def test_a_rolled_back_caller_leaves_a_file_that_the_sweep_removes(
    ward_agency, plain_pdf, tmp_path
) -> None:
    from datetime import timedelta

    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        _doc(ward_agency, plain_pdf)
        raise RuntimeError("the dossier service failed after storing the document")
    kept = _doc(ward_agency, plain_pdf)
    files = list((tmp_path / "media").rglob("*.pdf"))
    assert len(files) == 2  # the rolled-back document's file is still on disk
    assert services.orphan_files_sweep(older_than=timedelta(hours=1)) == 0  # too recent
    assert services.orphan_files_sweep(older_than=timedelta(seconds=-1)) == 1
    remaining = list((tmp_path / "media").rglob("*.pdf"))
    assert [p.name for p in remaining] == [kept.versions.get().file.name.rsplit("/", 1)[-1]]
