"""A plain one-page PDF for the signature tests (the real forms come from rendering.py)."""

from __future__ import annotations

import datetime as dt
from functools import cache


@cache
def one_page_pdf(
    text: str = "Giấy xác nhận — Thudo", *, width: float = 210, height: float = 297
) -> bytes:
    """A one-page PDF (size in millimetres, A4 by default) with one line of text."""
    from fpdf import FPDF

    from thudo.documents.signing import font_path

    pdf = FPDF(unit="mm", format=(width, height))
    pdf.set_creation_date(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(font_path()))
    pdf.set_font("DejaVu", size=14)
    pdf.cell(text=text)
    return bytes(pdf.output())
