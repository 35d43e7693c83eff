"""Photos and short videos of a report: checked by their bytes, cleaned, then stored.

Every file is judged by its bytes, never by its name or declared type: JPEG, PNG and WebP photos,
MP4 (an ``ftyp`` box at offset 4) and WebM (the EBML header ``1A 45 DF A3`` with the ``webm``
doc type) videos. A photo must decode fully with Pillow and is re-encoded before it is stored,
with the EXIF orientation applied and every EXIF/XMP block dropped (the position, the camera,
the owner's name stay with the resident). `photo_position` reads the GPS position of the
original so a form can offer it as the report's place; it is never stored. Videos are stored as
they are and are never shown publicly (ADR).

`media_check` / `media_validate` only read; `media_write` writes the files (rows not saved yet)
after every check has passed, and the caller deletes what it wrote when its transaction fails
(`media_delete`); `orphan_media_sweep` removes what a rolled-back outer transaction left.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed

from .models import Report, ReportEvent, ReportMedia

logger = logging.getLogger(__name__)

MB = 1024 * 1024
MAX_IMAGE_PIXELS = 60_000_000  # 60 megapixels: any phone photo, not a decompression bomb
JPEG_QUALITY = 88
GPS_IFD = 0x8825

JPEG, PNG, WEBP, MP4, WEBM = "jpeg", "png", "webp", "mp4", "webm"
PHOTO_TYPES = (JPEG, PNG, WEBP)
VIDEO_TYPES = (MP4, WEBM)
CONTENT_TYPES = {
    JPEG: "image/jpeg",
    PNG: "image/png",
    WEBP: "image/webp",
    MP4: "video/mp4",
    WEBM: "video/webm",
}
EXTENSIONS = {JPEG: "jpg", PNG: "png", WEBP: "webp", MP4: "mp4", WEBM: "webm"}
PIL_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EBML = b"\x1a\x45\xdf\xa3"

MSG_EMPTY = _("The file is empty.")
MSG_TOO_LARGE = _("The file is too large: the limit is {limit} MB.")
MSG_UNKNOWN_TYPE = _("This file is not a JPEG, PNG or WebP photo or an MP4 or WebM video.")
MSG_NO_VIDEO = _("Only photos are accepted here.")
MSG_CORRUPT_IMAGE = _("The image is damaged and cannot be read.")
MSG_IMAGE_TOO_BIG = _("The image has too many pixels to be accepted.")
MSG_FILE_PROBLEM = _("{name}: {problem}")
MSG_TOO_MANY = _("Attach at most {limit} photos or videos.")
MSG_ONE_VIDEO = _("Attach at most one video.")
MSG_REQUIRED = _("Attach at least one photo or video of the problem.")
MSG_BOXES = _("Mark at least one area to black out, inside the photo.")
MSG_NOT_PHOTO = _("Only a photo can be redacted.")


@dataclass(frozen=True)
class CheckedMedia:
    """A photo (already cleaned) or a video that passed every check, held until it is stored."""

    original_name: str
    type: str  # jpeg | png | webp | mp4 | webm
    content: bytes
    width: int | None = None
    height: int | None = None

    @property
    def kind(self) -> str:
        return ReportMedia.Kind.VIDEO if self.type in VIDEO_TYPES else ReportMedia.Kind.PHOTO

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.type]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.type]


class MediaRefused(Exception):
    """One file was refused; `message` says why (translatable)."""

    def __init__(self, message: str | Promise) -> None:
        super().__init__(str(message))
        self.message = message


# --- limits -----------------------------------------------------------------------------------


def max_photo_bytes() -> int:
    return int(getattr(settings, "FEEDBACK_MAX_PHOTO_BYTES", 10 * MB))


def max_video_bytes() -> int:
    return int(getattr(settings, "FEEDBACK_MAX_VIDEO_BYTES", 30 * MB))


def max_files() -> int:
    return int(getattr(settings, "FEEDBACK_MAX_FILES", 5))


def _mb(limit: int) -> str:
    value = limit / MB
    return f"{value:.0f}" if value >= 1 else f"{value:.2f}"


# --- sniffing and reading ---------------------------------------------------------------------


def media_sniff(head: bytes) -> str | None:
    """The file's type from its first bytes (64 are enough), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(PNG_SIGNATURE):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return MP4
    if head.startswith(EBML) and b"webm" in head[:64]:
        return WEBM
    return None


def upload_name(upload: Any) -> str:
    return os.path.basename(str(getattr(upload, "name", "") or "")).strip()


def _read(upload: Any, limit: int) -> bytes:
    """At most `limit` bytes of the upload (bytes, a file or an UploadedFile), or MediaRefused."""
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > limit:
            raise MediaRefused(format_lazy(MSG_TOO_LARGE, limit=_mb(limit)))
        if hasattr(upload, "seek"):
            upload.seek(0)
        if hasattr(upload, "chunks") and size is not None:
            parts, seen = [], 0
            for chunk in upload.chunks():
                seen += len(chunk)
                if seen > limit:
                    raise MediaRefused(format_lazy(MSG_TOO_LARGE, limit=_mb(limit)))
                parts.append(chunk)
            data = b"".join(parts)
        else:
            data = upload.read(limit + 1)
        if hasattr(upload, "seek"):
            with contextlib.suppress(Exception):
                upload.seek(0)
    if len(data) > limit:
        raise MediaRefused(format_lazy(MSG_TOO_LARGE, limit=_mb(limit)))
    if not data:
        raise MediaRefused(MSG_EMPTY)
    return data


# --- photos -----------------------------------------------------------------------------------


def _open_checked(data: bytes, kind: str) -> Any:
    """The decoded image (pixels loaded), or MediaRefused: damaged, wrong format, too big."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != PIL_FORMATS[kind]:
                    raise MediaRefused(MSG_CORRUPT_IMAGE)
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise MediaRefused(MSG_IMAGE_TOO_BIG)
                image.verify()  # structure and checksums (PNG CRCs)
            image = Image.open(io.BytesIO(data))
            image.load()  # decode every pixel: a truncated file fails here
            return image
    except MediaRefused:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise MediaRefused(MSG_IMAGE_TOO_BIG) from None
    except Exception:  # Pillow raises many types for damaged data
        raise MediaRefused(MSG_CORRUPT_IMAGE) from None


def _encode(image: Any, kind: str, icc_profile: bytes | None = None) -> bytes:
    """Re-encode pixels only: no EXIF, no XMP, no comments (ICC colour profile kept)."""
    fmt = PIL_FORMATS[kind]
    if kind == JPEG and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    elif kind == WEBP and image.mode not in ("RGB", "RGBA"):
        image = image.convert(
            "RGBA" if "A" in image.mode or "transparency" in image.info else "RGB"
        )
    elif kind == PNG and image.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        image = image.convert("RGBA")
    image.info.clear()
    options: dict[str, Any] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if kind == JPEG:
        options.update(quality=JPEG_QUALITY, optimize=True)
    elif kind == WEBP:
        options.update(quality=JPEG_QUALITY)
    elif kind == PNG:
        options.update(optimize=False)
    out = io.BytesIO()
    image.save(out, format=fmt, exif=b"", **options)
    return out.getvalue()


def photo_strip(data: bytes, kind: str) -> tuple[bytes, int, int]:
    """The photo re-encoded upright with no metadata: (bytes, width, height)."""
    from PIL import ImageOps

    image = _open_checked(data, kind)
    try:
        icc = image.info.get("icc_profile")
        upright = ImageOps.exif_transpose(image)
        content = _encode(upright, kind, icc)
        return content, upright.width, upright.height
    except MediaRefused:
        raise
    except Exception:
        raise MediaRefused(MSG_CORRUPT_IMAGE) from None
    finally:
        image.close()


def _degrees(value: Any) -> float | None:
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    return result if math.isfinite(result) else None


def photo_position(upload: Any) -> tuple[float, float] | None:
    """The GPS position (latitude, longitude) recorded in a photo's EXIF, or None.

    Only read, never stored: the form offers it as the report's place. None for a video, a
    photo with no or a malformed GPS block, or anything that is not a readable photo."""
    from PIL import Image

    try:
        data = _read(upload, max_photo_bytes())
    except MediaRefused:
        return None
    kind = media_sniff(data[:64])
    if kind not in PHOTO_TYPES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                gps = image.getexif().get_ifd(GPS_IFD)
    except Exception:
        return None
    if not gps:
        return None
    lat, lng = _degrees(gps.get(2)), _degrees(gps.get(4))
    if lat is None or lng is None:
        return None
    lat_ref = str(gps.get(1) or "N").strip().upper()[:1]
    lng_ref = str(gps.get(3) or "E").strip().upper()[:1]
    if lat_ref == "S":
        lat = -lat
    if lng_ref == "W":
        lng = -lng
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (lat == 0 and lng == 0):
        return None
    return round(lat, 7), round(lng, 7)


def redact(data: bytes, boxes: Sequence[Sequence[int]]) -> tuple[bytes, int, int, str]:
    """The photo with each box (x, y, w, h in pixels) filled black, re-encoded without metadata:
    (bytes, width, height, type). Boxes are clipped to the photo; none left inside → refused."""
    from PIL import ImageDraw

    kind = media_sniff(data[:64])
    if kind not in PHOTO_TYPES:
        raise MediaRefused(MSG_NOT_PHOTO)
    image = _open_checked(data, kind)
    try:
        rects = _clip_boxes(boxes, image.width, image.height)
        if not rects:
            raise MediaRefused(MSG_BOXES)
        if image.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        fill: Any = (
            0
            if len(image.getbands()) == 1
            else tuple(255 if band == "A" else 0 for band in image.getbands())
        )
        if image.mode == "CMYK":
            fill = (0, 0, 0, 255)
        draw = ImageDraw.Draw(image)
        for x0, y0, x1, y1 in rects:
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
        icc = image.info.get("icc_profile")
        return _encode(image, kind, icc), image.width, image.height, kind
    finally:
        image.close()


def _clip_boxes(boxes: Sequence[Sequence[int]], width: int, height: int) -> list[tuple[int, ...]]:
    rects: list[tuple[int, ...]] = []
    for box in boxes or ():
        try:
            x, y, w, h = (int(v) for v in box)
        except (TypeError, ValueError):
            raise MediaRefused(MSG_BOXES) from None
        if w <= 0 or h <= 0:
            raise MediaRefused(MSG_BOXES)
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(width, x + w), min(height, y + h)
        if x1 > x0 and y1 > y0:
            rects.append((x0, y0, x1, y1))
    return rects


# --- checking ---------------------------------------------------------------------------------


def media_check(upload: Any, *, purpose: str = ReportMedia.Purpose.REPORT) -> CheckedMedia:
    """One file, checked and (a photo) cleaned, or MediaRefused saying why. Evidence of an
    answer may be a photo or a video, like a report."""
    photo_limit, video_limit = max_photo_bytes(), max_video_bytes()
    data = _read(upload, max(photo_limit, video_limit))
    kind = media_sniff(data[:64])
    if kind is None:
        raise MediaRefused(MSG_UNKNOWN_TYPE)
    name = upload_name(upload) or f"file.{EXTENSIONS[kind]}"
    if kind in VIDEO_TYPES:
        if len(data) > video_limit:
            raise MediaRefused(format_lazy(MSG_TOO_LARGE, limit=_mb(video_limit)))
        return CheckedMedia(original_name=name[:255], type=kind, content=data)
    if len(data) > photo_limit:
        raise MediaRefused(format_lazy(MSG_TOO_LARGE, limit=_mb(photo_limit)))
    content, width, height = photo_strip(data, kind)
    return CheckedMedia(
        original_name=name[:255], type=kind, content=content, width=width, height=height
    )


def media_validate(
    uploads: Iterable[Any] | None,
    *,
    purpose: str = ReportMedia.Purpose.REPORT,
    field: str = "media",
    required: bool = False,
) -> list[CheckedMedia]:
    """Every file checked (every problem reported, keyed by `field`), or ValidationFailed."""
    items = [u for u in (uploads or ()) if u is not None]
    errors: list[str | Promise] = []
    if required and not items:
        raise ValidationFailed(fields={field: MSG_REQUIRED})
    limit = max_files()
    if len(items) > limit:
        raise ValidationFailed(fields={field: format_lazy(MSG_TOO_MANY, limit=limit)})
    checked: list[CheckedMedia] = []
    for upload in items:
        try:
            checked.append(media_check(upload, purpose=purpose))
        except MediaRefused as exc:
            errors.append(
                format_lazy(MSG_FILE_PROBLEM, name=upload_name(upload) or "?", problem=exc.message)
            )
    if not errors and sum(1 for c in checked if c.kind == ReportMedia.Kind.VIDEO) > 1:
        errors.append(MSG_ONE_VIDEO)
    if errors:
        raise ValidationFailed(fields={field: errors if len(errors) > 1 else errors[0]})
    return checked


# --- storing ----------------------------------------------------------------------------------


def media_write(
    *,
    report: Report,
    checked: Sequence[CheckedMedia],
    stored: list[str],
    purpose: str = ReportMedia.Purpose.REPORT,
    uploaded_by: Any = None,
    event: ReportEvent | None = None,
) -> list[ReportMedia]:
    """Write the files and return their rows, not saved yet (`bulk_create` them in the
    transaction). Each written name is appended to `stored` at once, so the caller can delete
    them if its transaction fails (`media_delete`)."""
    user = uploaded_by if getattr(uploaded_by, "is_authenticated", False) else None
    rows: list[ReportMedia] = []
    for item in checked:
        row = ReportMedia(
            report=report,
            event=event,
            kind=item.kind,
            purpose=purpose,
            content_type=item.content_type,
            size=item.size,
            width=item.width,
            height=item.height,
            uploaded_by=user,
        )
        row.file.save(f"{item.kind}.{item.extension}", ContentFile(item.content), save=False)
        stored.append(row.file.name)
        rows.append(row)
    return rows


def media_delete(names: Iterable[str]) -> None:
    """Delete stored files (after a failed transaction, or replaced ones after commit)."""
    for name in names:
        with contextlib.suppress(Exception):  # best effort; never hide the first error
            default_storage.delete(name)


def orphan_media_sweep(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete stored report files that no `ReportMedia` refers to (an outer transaction rolled
    back after they were written, or a process died in between). Files live in
    ``feedback/<year>/<month>/``."""
    storage = default_storage
    cutoff = timezone.now() - older_than
    deleted = 0
    try:
        years, _files = storage.listdir("feedback")
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for year in years:
        months, _files = storage.listdir(f"feedback/{year}")
        for month in months:
            _sub, names = storage.listdir(f"feedback/{year}/{month}")
            paths = [f"feedback/{year}/{month}/{name}" for name in names]
            if not paths:
                continue
            known = set(ReportMedia.objects.filter(file__in=paths).values_list("file", flat=True))
            for path in paths:
                if path in known or storage.get_modified_time(path) > cutoff:
                    continue
                storage.delete(path)
                deleted += 1
    if deleted:
        logger.warning("removed %d stored report files that no row refers to", deleted)
    return deleted
