"""Bad input leaves nothing behind: no dossier, no file row, no stored file, no number taken.
The same submission twice with one idempotency key gives one dossier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from thudo.core.errors import ValidationFailed
from thudo.core.models import AuditEvent
from thudo.dossiers import services
from thudo.dossiers.models import Dossier, DossierCounter, DossierEvent, DossierFile
from thudo.notifications.models import Notification

from .factories import BIRTH_DATA, good_files, jpeg_bytes, pdf_bytes, png_bytes, submit, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def assert_nothing_left(root: Path) -> None:
    assert not Dossier.objects.exists()
    assert not DossierFile.objects.exists()
    assert not DossierEvent.objects.exists()
    assert not Notification.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="dossier.").exists()
    assert stored_files(root) == []
    assert DossierCounter.objects.filter(last__gt=0).count() == 0


def with_paper(paper: str, *files: Any) -> dict[str, list[Any]]:
    return {**good_files(), paper: list(files)}


CASES: dict[str, tuple[dict[str, Any], dict[str, list[Any]], set[str]]] = {
    "missing field": (
        {k: v for k, v in BIRTH_DATA.items() if k != "child_name"},
        good_files(),
        {"child_name"},
    ),
    "bad field values": (
        {**BIRTH_DATA, "birth_date": "31/02/2026", "sex": "other"},
        good_files(),
        {"birth_date", "sex"},
    ),
    "missing paper": (BIRTH_DATA, {"to-khai": good_files()["to-khai"]}, {"paper:giay-chung-sinh"}),
    "wrong type": (
        BIRTH_DATA,
        with_paper("giay-chung-sinh", upload("cs.jpg", jpeg_bytes())),
        {"paper:giay-chung-sinh"},
    ),
    "oversized": (
        BIRTH_DATA,
        with_paper("giay-chung-sinh", upload("cs.pdf", pdf_bytes() + b"%" * (2 * 1024 * 1024))),
        {"paper:giay-chung-sinh"},
    ),
    "corrupt pdf": (
        BIRTH_DATA,
        with_paper("giay-chung-sinh", upload("cs.pdf", b"%PDF-1.7\n" + b"\x13" * 2000)),
        {"paper:giay-chung-sinh"},
    ),
    "corrupt png": (
        BIRTH_DATA,
        with_paper("to-khai", upload("tk.png", png_bytes()[:50] + b"\x00" * 50)),
        {"paper:to-khai"},
    ),
    "everything at once": (
        {},
        {"to-khai": [upload("tk.png", b"\x89PNG\r\n\x1a\n broken")]},
        {"child_name", "birth_date", "sex", "paper:to-khai", "paper:giay-chung-sinh"},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_reported_field_by_field_and_leaves_nothing(
    case: str, procedure: Any, applicant: Any, media_root: Path
) -> None:
    data, files, fields = CASES[case]
    with pytest.raises(ValidationFailed) as error:
        submit(procedure=procedure, applicant=applicant, data=dict(data), files=files)
    assert set(error.value.fields) == fields
    assert error.value.status == 422
    body = error.value.as_dict()
    assert body["code"] == "validation_failed" and all(body["fields"][f] for f in fields)
    assert_nothing_left(media_root)


def test_a_failure_late_in_the_submission_leaves_no_row_file_or_number(
    procedure: Any, applicant: Any, media_root: Path, monkeypatch: Any
) -> None:
    def boom(dossier: Any, *args: Any, **kwargs: Any) -> None:
        # By now the code is taken, the rows and the files are written.
        assert DossierFile.objects.filter(dossier=dossier).count() == 2
        assert len(stored_files(media_root)) == 2
        raise RuntimeError("the notification failed")

    monkeypatch.setattr(services, "_notify_applicant", boom)
    with pytest.raises(RuntimeError):
        submit(procedure=procedure, applicant=applicant)
    assert_nothing_left(media_root)
    monkeypatch.undo()
    # The number was given back: the next dossier of the day is 0001.
    assert submit(procedure=procedure, applicant=applicant).code.endswith("-0001")


def test_the_same_idempotency_key_gives_one_dossier(
    procedure: Any, applicant: Any, other_citizen: Any, media_root: Path
) -> None:
    first = submit(procedure=procedure, applicant=applicant, idempotency_key="k-1")
    again = submit(procedure=procedure, applicant=applicant, idempotency_key="k-1")
    assert again.pk == first.pk
    assert Dossier.objects.count() == 1 and DossierFile.objects.count() == 2
    assert len(stored_files(media_root)) == 2
    # Another key, or another applicant with the same key: new dossiers.
    assert submit(procedure=procedure, applicant=applicant, idempotency_key="k-2").pk != first.pk
    theirs = submit(procedure=procedure, applicant=other_citizen, idempotency_key="k-1")
    assert theirs.pk != first.pk and theirs.applicant == other_citizen


def test_an_idempotency_race_returns_the_existing_dossier(
    procedure: Any, applicant: Any, media_root: Path, monkeypatch: Any
) -> None:
    """The second request passed the early check before the first committed: its insert hits
    the unique constraint, its transaction (code, files) is undone, the first one is returned."""
    from thudo.dossiers import services as dossier_services

    first = submit(procedure=procedure, applicant=applicant, idempotency_key="race")
    real_probe = dossier_services._idempotent
    calls = {"n": 0}

    def blind_probe(applicant: Any, key: str) -> Any:
        if key == "race" and calls["n"] == 0:
            calls["n"] += 1
            return None  # the early look-up misses it
        return real_probe(applicant, key)

    monkeypatch.setattr(dossier_services, "_idempotent", blind_probe)
    again = submit(procedure=procedure, applicant=applicant, idempotency_key="race")
    assert again.pk == first.pk and calls["n"] == 1
    monkeypatch.undo()
    assert Dossier.objects.count() == 1 and len(stored_files(media_root)) == 2
    assert DossierCounter.objects.get().last == 1


def test_an_inactive_procedure_or_unknown_ward_is_refused(
    procedure: Any, citizen: Any, applicant: Any
) -> None:
    procedure.is_active = False
    procedure.save()
    with pytest.raises(ValidationFailed) as error:
        submit(procedure=procedure, applicant=applicant)
    assert "procedure" in error.value.fields
    procedure.is_active = True
    procedure.save()
    citizen.home_unit = None
    citizen.save()
    with pytest.raises(ValidationFailed) as error:
        submit(procedure=procedure, applicant=citizen)
    assert "receiving_agency" in error.value.fields
