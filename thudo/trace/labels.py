"""Label sheets: an A4 page of 3 × 8 labels (70 × 37 mm), each with the QR code of the batch's
GS1 Digital Link (identifiers.digital_link: ``<our domain>/01/<GTIN>/10/<lot>``, and
``…/21/<serial>`` for each item of a serialised batch), the product name, the lot, the
production and expiry dates and the producer.

The QR is made by segno (error correction M, the standard quiet zone of 4 modules) and placed as
a 1-bit PNG, one module = 8 pixels, so it prints sharp at any size; fpdf2 stores a QR that
repeats (a lot's labels) once. Text is DejaVu Sans cut to the Vietnamese letters, the font the
documents app prepares (documents.rendering)."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from . import identifiers, services
from .models import Batch

# A4 in millimetres; 3 columns × 8 rows of 70 × 37.125 mm labels, no margins (the common
# "24 per sheet" label paper).
PAGE_W, PAGE_H = 210.0, 297.0
COLUMNS, ROWS = 3, 8
LABEL_W, LABEL_H = PAGE_W / COLUMNS, PAGE_H / ROWS
PER_SHEET = COLUMNS * ROWS
MAX_LABELS = 500
PAD = 2.5
QR_SIZE = LABEL_H - 2 * PAD + 2  # the quiet zone is white, so the symbol may touch the padding
QR_SCALE = 8  # pixels per module in the embedded PNG
QR_BORDER = 4  # modules of quiet zone
FONT = "DejaVuSans"


@dataclass(frozen=True)
class Label:
    uri: str
    product: str
    lot: str
    serial: str
    produced_on: date | None
    expires_on: date | None
    producer: str


def label_items(batch: Batch, *, count: int = PER_SHEET, start: int = 1) -> list[Label]:
    """The labels to print: `count` copies of the lot's label, or for a serialised batch the
    labels of its items from serial number `start` (at most `count`, never past the last)."""
    count = max(1, min(int(count), MAX_LABELS))
    product = batch.product

    def label(serial: str = "") -> Label:
        return Label(
            uri=identifiers.digital_link(product.gtin, batch.lot, serial),
            product=product.name,
            lot=batch.lot,
            serial=serial,
            produced_on=batch.produced_on,
            expires_on=batch.expires_on,
            producer=product.producer.name,
        )

    if batch.serial_count:
        return [label(s) for s in services.batch_serials(batch)[max(0, start - 1) :][:count]]
    return [label()] * count


def qr_png(uri: str) -> bytes:
    """The QR code of `uri` as a 1-bit PNG with its quiet zone (error correction M)."""
    import segno

    out = io.BytesIO()
    segno.make(uri, error="m", micro=False, boost_error=False).save(
        out, kind="png", scale=QR_SCALE, border=QR_BORDER
    )
    return out.getvalue()


def _printable(text: str, allowed: frozenset[str]) -> str:
    text = unicodedata.normalize("NFC", text or "")
    return "".join(ch if ch in allowed else "?" for ch in text)


def _fit(pdf: Any, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _lines(pdf: Any, text: str, width: float, max_lines: int) -> list[str]:
    """`text` broken into at most `max_lines` lines of `width`, the last cut with …"""
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if pdf.get_string_width(candidate) <= width or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    return [_fit(pdf, line, width) for line in lines]


def _date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def labels_pdf(batch: Batch, *, count: int = PER_SHEET, start: int = 1) -> bytes:
    """The label sheet(s) of a batch as PDF bytes."""
    from fpdf import FPDF

    from thudo.documents.rendering import _fonts

    items = label_items(batch, count=count, start=start)
    fonts = _fonts()
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font(FONT, "", str(fonts.regular))
    pdf.add_font(FONT, "B", str(fonts.bold))
    for loaded in pdf.fonts.values():
        if hasattr(loaded, "ttfont"):
            loaded.ttfont.recalcBBoxes = False
    pdf.set_creator("Thudo")
    pdf.set_producer("Thudo")
    pdf.set_lang("vi")
    pdf.set_title(_printable(f"{batch.product.name} — {batch.lot}", fonts.printable))
    pngs: dict[str, bytes] = {}
    text_x = PAD + QR_SIZE + 1.0
    text_w = LABEL_W - text_x - PAD
    for index, item in enumerate(items):
        if index % PER_SHEET == 0:
            pdf.add_page()
        cell = index % PER_SHEET
        x0 = (cell % COLUMNS) * LABEL_W
        y0 = (cell // COLUMNS) * LABEL_H
        png = pngs.get(item.uri)
        if png is None:
            png = pngs[item.uri] = qr_png(item.uri)
        pdf.image(io.BytesIO(png), x=x0 + PAD - 1, y=y0 + PAD - 1, w=QR_SIZE, h=QR_SIZE)
        y = y0 + PAD + 1.5
        pdf.set_font(FONT, "B", 8.5)
        for line in _lines(pdf, _printable(item.product, fonts.printable), text_w, 2):
            pdf.text(x0 + text_x, y + 2.5, line)
            y += 3.6
        y += 0.8
        pdf.set_font(FONT, "", 7)
        rows = [f"Lô: {item.lot}"]
        if item.serial:
            rows.append(f"Số sê-ri: {item.serial}")
        rows.append(f"NSX: {_date(item.produced_on)}")
        rows.append(f"HSD: {_date(item.expires_on)}")
        for row in rows:
            pdf.text(x0 + text_x, y + 2.2, _fit(pdf, _printable(row, fonts.printable), text_w))
            y += 3.1
        pdf.set_font(FONT, "", 6.5)
        producer = _lines(pdf, _printable(item.producer, fonts.printable), text_w, 2)
        bottom = y0 + LABEL_H - PAD - 0.5
        for n, line in enumerate(producer):
            pdf.text(x0 + text_x, bottom - (len(producer) - 1 - n) * 2.8, line)
    return bytes(pdf.output())
