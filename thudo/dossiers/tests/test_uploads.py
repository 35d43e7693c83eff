"""The paper checks: type from the bytes, size limits, damaged PDFs and images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from thudo.dossiers import uploads
from thudo.dossiers.uploads import FileRefused, file_check, file_sniff, papers_check

from .factories import BIRTH_PAPERS, jpeg_bytes, pdf_bytes, png_bytes, upload


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


SPEC = {"papers": [{**p, "file_types": p["file_types"].split(",")} for p in BIRTH_PAPERS]}
ANY_PAPER = {"code": "p", "file_types": ["pdf", "jpg", "png"], "max_mb": 10}


def test_the_type_comes_from_the_bytes() -> None:
    assert file_sniff(pdf_bytes()) == "pdf"
    assert file_sniff(png_bytes()) == "png"
    assert file_sniff(jpeg_bytes()) == "jpg"
    assert file_sniff(b"PK\x03\x04 docx") is None
    # A PDF named .png is a PDF.
    checked = file_check(upload("anh.png", pdf_bytes(), "image/png"), paper=ANY_PAPER)
    assert checked.kind == "pdf" and checked.content_type == "application/pdf"
    assert len(checked.sha256) == 64 and checked.original_name == "anh.png"


@pytest.mark.parametrize(
    ("content", "paper", "message"),
    [
        (b"", ANY_PAPER, "empty"),
        (b"PK\x03\x04" + b"x" * 100, ANY_PAPER, "not a PDF, JPEG or PNG"),
        (png_bytes(), {**ANY_PAPER, "file_types": ["pdf"]}, "Accepted: PDF"),
        (b"%PDF-1.7\n" + b"\x00\xff" * 400, ANY_PAPER, "PDF"),
        (pdf_bytes()[: len(pdf_bytes()) // 2], ANY_PAPER, "incomplete"),
        (png_bytes()[:40] + b"\x00" * 60, ANY_PAPER, "image is damaged"),
        (jpeg_bytes()[:200], ANY_PAPER, "image is damaged"),
        (b"\xff\xd8\xff\xe0" + b"garbage" * 20, ANY_PAPER, "image is damaged"),
    ],
    ids=[
        "empty",
        "unknown",
        "wrong-type",
        "corrupt-pdf",
        "truncated-pdf",
        "corrupt-png",
        "truncated-jpeg",
        "garbage-jpeg",
    ],
)
def test_bad_files_are_refused_with_a_reason(content: bytes, paper: Any, message: str) -> None:
    with pytest.raises(FileRefused) as error:
        file_check(upload("f.bin", content), paper=paper)
    assert message in str(error.value.message)


def test_size_limits_come_from_the_paper_and_the_setting(settings: Any) -> None:
    big = pdf_bytes() + b"%" * (2 * 1024 * 1024)
    with pytest.raises(FileRefused) as error:
        file_check(upload("big.pdf", big), paper={**ANY_PAPER, "max_mb": 2})
    assert "too large: the limit is 2 MB" in str(error.value.message)
    settings.DOSSIER_MAX_FILE_BYTES = 1000
    assert uploads.paper_limit(ANY_PAPER) == 1000
    with pytest.raises(FileRefused):
        file_check(upload("p.pdf", pdf_bytes()), paper=ANY_PAPER)
    file_check(upload("small.png", png_bytes()), paper=ANY_PAPER)


def test_an_image_with_too_many_pixels_is_refused(monkeypatch: Any) -> None:
    monkeypatch.setattr(uploads, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(FileRefused) as error:
        file_check(upload("big.png", png_bytes((20, 20))), paper=ANY_PAPER)
    assert "too many pixels" in str(error.value.message)


def test_papers_check_reports_every_problem_by_paper() -> None:
    checked, errors = papers_check(
        spec=SPEC,
        files={
            "to-khai": [upload("a.png", png_bytes()), upload("b.png", b"\x89PNG\r\n\x1a\nxx")],
            "uy-quyen": [upload("c.jpg", jpeg_bytes())],  # accepts pdf and png only
            "la": [upload("d.pdf", pdf_bytes())],
        },
    )
    assert [c.original_name for c in checked] == ["a.png"]
    assert set(errors) == {"paper:to-khai", "paper:uy-quyen", "paper:la", "paper:giay-chung-sinh"}
    assert "b.png" in str(errors["paper:to-khai"][0])
    assert str(errors["paper:giay-chung-sinh"][0]) == "This paper is required."
    assert str(errors["paper:la"][0]) == "This paper is not part of the procedure."
    # A supplement brings only some papers.
    _checked, errors = papers_check(
        spec=SPEC, files={"to-khai": [upload("a.png", png_bytes())]}, require=False
    )
    assert errors == {}


def test_too_many_files_for_one_paper() -> None:
    files = {"to-khai": [upload(f"{n}.png", png_bytes()) for n in range(11)]}
    _checked, errors = papers_check(spec=SPEC, files=files, require=False)
    assert "at most 10" in str(errors["paper:to-khai"][0])


def test_orphan_sweep_removes_only_old_papers_no_row_refers_to(
    applicant: Any, procedure: Any, media_root: Path
) -> None:
    import os
    import time

    from thudo.dossiers.uploads import orphan_files_sweep

    from .factories import submit

    dossier = submit(procedure=procedure, applicant=applicant)
    kept = [f.file.name for f in dossier.files.all()]
    assert kept
    folder = media_root / "dossiers" / str(dossier.public_id)
    stray_old = folder / "0123456789abcdef-to-khai"
    stray_new = folder / "fedcba9876543210-to-khai"
    stray_old.write_bytes(b"%PDF-1.4 left behind")
    stray_new.write_bytes(b"%PDF-1.4 being written")
    two_hours_ago = time.time() - 7200
    os.utime(stray_old, (two_hours_ago, two_hours_ago))
    for name in kept:
        os.utime(media_root / name, (two_hours_ago, two_hours_ago))

    assert orphan_files_sweep() == 1
    assert not stray_old.exists() and stray_new.exists()
    assert all((media_root / name).exists() for name in kept)
