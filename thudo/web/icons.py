"""Draws the app's icons (a gold star in a gold ring on the theme red) without any dependency.

The files under static/web/icons/ are made by `python -m thudo.web.icons`; run it again after
changing the drawing. PNGs are written with zlib, so no imaging library is needed.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

RED = (0xA1, 0x12, 0x1A)
GOLD = (0xFF, 0xCD, 0x00)
STATIC = Path(__file__).parent / "static" / "web" / "icons"


def star(cx: float, cy: float, outer: float) -> list[tuple[float, float]]:
    inner = outer * 0.381966
    points = []
    for i in range(10):
        angle = -math.pi / 2 + i * math.pi / 5
        radius = outer if i % 2 == 0 else inner
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def _inside(x: float, y: float, poly: list[tuple[float, float]]) -> bool:
    inside = False
    j = len(poly) - 1
    for i, (xi, yi) in enumerate(poly):
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _in_rounded_square(x: float, y: float, radius: float) -> bool:
    """The unit square [0, 100] with rounded corners."""
    cx = min(max(x, radius), 100 - radius)
    cy = min(max(y, radius), 100 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _sample(x: float, y: float, *, maskable: bool) -> tuple[int, int, int, int]:
    """The colour at (x, y) in a 100 x 100 drawing; maskable icons fill the whole square."""
    if not maskable and not _in_rounded_square(x, y, 20):
        return (0, 0, 0, 0)
    scale = 0.8 if maskable else 1.0  # keep the emblem inside the maskable safe zone
    dx, dy = (x - 50) / scale, (y - 50) / scale
    distance = math.hypot(dx, dy)
    if 33 <= distance <= 37 or _inside(50 + dx, 50 + dy, star(50, 51, 25)):
        return (*GOLD, 255)
    return (*RED, 255)


def png(size: int, *, maskable: bool = False, samples: int = 4) -> bytes:
    rows = []
    step = 100 / size / samples
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(samples):
                for sx in range(samples):
                    x = (px * samples + sx + 0.5) * step
                    y = (py * samples + sy + 0.5) * step
                    colour = _sample(x, y, maskable=maskable)
                    for k in range(3):
                        acc[k] += colour[k] * colour[3]
                    acc[3] += colour[3]
            alpha = acc[3]
            if alpha:
                row += bytes(round(acc[k] / alpha) for k in range(3))
            else:
                row += b"\0\0\0"
            row.append(round(alpha / samples**2))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def svg() -> str:
    points = " ".join(f"{x:.2f},{y:.2f}" for x, y in star(50, 51, 25))
    red = "#{:02x}{:02x}{:02x}".format(*RED)
    gold = "#{:02x}{:02x}{:02x}".format(*GOLD)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
        f'<rect width="100" height="100" rx="20" fill="{red}"/>'
        f'<circle cx="50" cy="50" r="35" fill="none" stroke="{gold}" stroke-width="4"/>'
        f'<polygon points="{points}" fill="{gold}"/>'
        "</svg>\n"
    )


def main() -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    (STATIC / "icon.svg").write_text(svg())
    (STATIC / "icon-192.png").write_bytes(png(192))
    (STATIC / "icon-512.png").write_bytes(png(512))
    (STATIC / "maskable-512.png").write_bytes(png(512, maskable=True))
    (STATIC / "apple-touch-icon.png").write_bytes(png(180, maskable=True))


if __name__ == "__main__":
    main()
