from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def english_messages() -> Any:
    """Messages are asserted in English here (Vietnamese is the default elsewhere)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def plain_pdf() -> bytes:
    """A small one-page PDF with Vietnamese text (DejaVu Sans from matplotlib)."""
    from pathlib import Path

    import matplotlib
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(__import__("datetime").datetime(2026, 1, 1))
    pdf.add_page()
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    pdf.add_font("DejaVu", fname=str(font))
    pdf.set_font("DejaVu", size=14)
    pdf.cell(text="Giấy xác nhận — Cộng hòa xã hội chủ nghĩa Việt Nam")
    return bytes(pdf.output())


@pytest.fixture
def ward_agency(make_agency: Any, ward: Any) -> Any:
    return make_agency("HN-00070", unit=ward, name="Ủy ban nhân dân Phường Hoàn Kiếm")
