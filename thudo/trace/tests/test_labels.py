"""Label sheets: A4 pages of 3 × 8 labels whose QR codes encode the batch's Digital Link (one per
item for serialised batches), with the product name in Vietnamese, the lot, the dates and the
producer; only the producer's people may print them."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
import segno
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from thudo.core.testing import require_program
from thudo.trace import identifiers, labels, services

from . import test_producers_factories as factories

tr = factories.tr
media_root = factories.media_root

pytestmark = pytest.mark.django_db


def _pdf(client: Any, batch: Any, query: str = "") -> Any:
    return client.get(reverse("trace:labels_pdf", args=[batch.pk]) + query)


def _reader(content: bytes) -> Any:
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(content))


def _qr_matrix(image: Any) -> list[list[int]]:
    """The module matrix of an embedded QR PNG (quiet zone and scale as labels.py draws it)."""
    gray = image.convert("L")
    modules = gray.width // labels.QR_SCALE - 2 * labels.QR_BORDER
    half = labels.QR_SCALE // 2
    return [
        [
            1
            if gray.getpixel(
                (
                    (labels.QR_BORDER + c) * labels.QR_SCALE + half,
                    (labels.QR_BORDER + r) * labels.QR_SCALE + half,
                )
            )
            < 128
            else 0
            for c in range(modules)
        ]
        for r in range(modules)
    ]


def _segno_matrix(uri: str) -> list[list[int]]:
    qr = segno.make(uri, error="m", micro=False, boost_error=False)
    assert qr.error == "M"
    return [[1 if v else 0 for v in row] for row in qr.matrix]


def test_label_sheet_pdf(client: Any, tr: Any) -> None:
    client.force_login(tr.owner)
    page = client.get(reverse("trace:labels", args=[tr.batch.pk]))
    assert page.status_code == 200
    response = _pdf(client, tr.batch)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = _reader(response.content)
    assert len(reader.pages) == 1  # default: one sheet of 24
    text = reader.pages[0].extract_text()
    assert text.count("Rau cải ngọt") == labels.PER_SHEET
    assert "Lô: VD2401" in text
    assert f"NSX: {tr.batch.produced_on:%d/%m/%Y}" in text
    assert f"HSD: {tr.batch.expires_on:%d/%m/%Y}" in text
    assert "HTX Rau an toàn Văn Đức" in text
    expected = identifiers.digital_link(tr.product.gtin, "VD2401")
    assert expected.endswith(f"/01/{tr.product.gtin}/10/VD2401")
    images = reader.pages[0].images
    assert len(images) >= 1
    assert _qr_matrix(images[0].image) == _segno_matrix(expected)


def test_count_spreads_over_sheets(client: Any, tr: Any) -> None:
    client.force_login(tr.owner)
    reader = _reader(_pdf(client, tr.batch, "?count=30").content)
    assert len(reader.pages) == 2
    assert reader.pages[1].extract_text().count("Lô: VD2401") == 6


@pytest.mark.parametrize("count", ["0", "501", "abc", "-3"])
def test_count_out_of_range_is_refused(client: Any, tr: Any, count: str) -> None:
    client.force_login(tr.owner)
    response = _pdf(client, tr.batch, f"?count={count}")
    assert response.status_code == 400
    assert b"1 to 500" in response.content or "1 đến 500".encode() in response.content


def test_serialised_batch_prints_one_label_per_item(client: Any, tr: Any) -> None:
    batch = services.batch_register(
        product=tr.product,
        actor=tr.owner,
        lot="S1",
        produced_on=timezone.localdate(),
        serial_count=5,
    )
    client.force_login(tr.owner)
    reader = _reader(_pdf(client, batch, "?count=24&start=2").content)
    text = reader.pages[0].extract_text()
    assert [f"S1.{n}" in text for n in range(1, 6)] == [False, True, True, True, True]
    images = reader.pages[0].images
    matrices = [_qr_matrix(i.image) for i in images]
    for n in range(2, 6):
        uri = identifiers.digital_link(tr.product.gtin, "S1", f"S1.{n}")
        assert uri.endswith(f"/10/S1/21/S1.{n}")
        assert _segno_matrix(uri) in matrices
    assert _pdf(client, batch, "?start=9").status_code == 400


def test_only_members_print_labels(client: Any, tr: Any) -> None:
    client.force_login(tr.seller)
    assert _pdf(client, tr.batch).status_code in (403, 404)
    assert client.get(reverse("trace:labels", args=[tr.batch.pk])).status_code in (403, 404)
    client.logout()
    response = _pdf(client, tr.batch)
    assert response.status_code == 302 and reverse(settings.LOGIN_URL) in response["Location"]


def test_pdf_renders_with_poppler(tr: Any, tmp_path: Path) -> None:
    pdftoppm = require_program("pdftoppm", "poppler-utils renders the label sheet to check it")
    source = tmp_path / "labels.pdf"
    source.write_bytes(labels.labels_pdf(tr.batch, count=3))
    subprocess.run(
        [pdftoppm, "-r", "50", "-png", "-singlefile", str(source), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    from PIL import Image

    with Image.open(tmp_path / "page.png") as page:
        # A4 at 50 dpi; the first label's QR (top left) has dark modules, the empty ones none.
        assert abs(page.width - 413) <= 2 and abs(page.height - 585) <= 2
        gray = page.convert("L")
        first = gray.crop((0, 0, 60, 70))
        last = gray.crop((page.width - 140, page.height - 70, page.width, page.height))
        assert sum(first.histogram()[:64]) > 0
        assert sum(last.histogram()[:200]) == 0
