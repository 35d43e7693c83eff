"""Product images: judged by their bytes, cleaned, then stored.

A product image must be a JPEG, PNG or WebP photo (sniffed from its first bytes, never from its
name or declared type), at most TRACE_MAX_IMAGE_BYTES (5 MB by default), decode fully with
Pillow, and is re-encoded before it is stored: upright (the EXIF orientation applied) and with
every EXIF/XMP block and comment dropped (a phone's position and camera stay with the
producer).

`image_check` only reads; `image_write` stores the cleaned bytes with Django's default storage
and returns the storage path; the caller deletes it again (`image_delete`) when its transaction
fails, so a refused registration leaves no file behind.
"""

from __future__ import annotations

import contextlib
import io
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed

MB = 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
QUALITY = 88

JPEG, PNG, WEBP = "jpeg", "png", "webp"
PIL_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
EXTENSIONS = {JPEG: "jpg", PNG: "png", WEBP: "webp"}
CONTENT_TYPES = {JPEG: "image/jpeg", PNG: "image/png", WEBP: "image/webp", "jpg": "image/jpeg"}
ACCEPT = "image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp"

MSG_EMPTY = _("The image file is empty.")
MSG_TOO_LARGE = _("The image is too large: the limit is {limit} MB.")
MSG_TYPE = _("The image must be a JPEG, PNG or WebP photo.")
MSG_CORRUPT = _("The image is damaged and cannot be read.")
MSG_PIXELS = _("The image has too many pixels to be accepted.")


@dataclass(frozen=True)
class CheckedImage:
    type: str  # jpeg | png | webp
    content: bytes
    width: int
    height: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.type]


def max_image_bytes() -> int:
    return int(getattr(settings, "TRACE_MAX_IMAGE_BYTES", 5 * MB))


def sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def _refuse(field: str, message: Any) -> ValidationFailed:
    return ValidationFailed(fields={field: message})


def _read(upload: Any, limit: int, field: str) -> bytes:
    too_large = format_lazy(MSG_TOO_LARGE, limit=f"{limit / MB:g}")
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > limit:
            raise _refuse(field, too_large)
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(limit + 1)
    if len(data) > limit:
        raise _refuse(field, too_large)
    if not data:
        raise _refuse(field, MSG_EMPTY)
    return data


def image_check(upload: Any, *, field: str = "image") -> CheckedImage:
    """The upload (bytes, a file or an UploadedFile) checked and re-encoded without metadata,
    or ValidationFailed naming `field` and why."""
    from PIL import Image, ImageOps

    data = _read(upload, max_image_bytes(), field)
    kind = sniff(data[:16])
    if kind is None:
        raise _refuse(field, MSG_TYPE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != PIL_FORMATS[kind]:
                    raise _refuse(field, MSG_CORRUPT)
                if probe.size[0] * probe.size[1] > MAX_IMAGE_PIXELS:
                    raise _refuse(field, MSG_PIXELS)
                probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except ValidationFailed:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _refuse(field, MSG_PIXELS) from None
    except Exception:  # Pillow raises many types for damaged data
        raise _refuse(field, MSG_CORRUPT) from None
    try:
        upright = ImageOps.exif_transpose(image)
        content = _encode(upright, kind)
        return CheckedImage(type=kind, content=content, width=upright.width, height=upright.height)
    except Exception:
        raise _refuse(field, MSG_CORRUPT) from None
    finally:
        image.close()


def _encode(image: Any, kind: str) -> bytes:
    if kind == JPEG and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif kind == WEBP and image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    elif kind == PNG and image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        image = image.convert("RGBA")
    image.info.clear()
    options: dict[str, Any] = {}
    if kind in (JPEG, WEBP):
        options["quality"] = QUALITY
    out = io.BytesIO()
    image.save(out, format=PIL_FORMATS[kind], exif=b"", **options)
    return out.getvalue()


def image_write(image: CheckedImage, *, folder: str = "trace/products") -> str:
    """Store the cleaned image; returns its storage path
    (``trace/products/<yyyy>/<uuid>.<ext>``)."""
    name = f"{folder}/{timezone.now():%Y}/{uuid.uuid4().hex}.{image.extension}"
    return default_storage.save(name, ContentFile(image.content))


def image_delete(path: str) -> None:
    if path:
        with contextlib.suppress(Exception):  # best effort: never hide the first error
            default_storage.delete(path)


def content_type(path: str) -> str:
    return CONTENT_TYPES.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")
