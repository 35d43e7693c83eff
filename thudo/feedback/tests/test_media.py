"""Photos and videos: the type from the bytes, the limits, damaged images, EXIF stripped before
storing, the GPS position offered (never stored), and redaction."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from thudo.core.errors import ValidationFailed
from thudo.feedback import media
from thudo.feedback.media import MediaRefused

from .factories import HK_LAT, HK_LNG, image_bytes, mp4_bytes, upload, webm_bytes


@pytest.fixture(autouse=True)
def english() -> Any:
    """Messages are checked in English (Vietnamese is the default language)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (image_bytes("JPEG"), "jpeg"),
        (image_bytes("PNG"), "png"),
        (image_bytes("WEBP"), "webp"),
        (mp4_bytes(), "mp4"),
        (webm_bytes(), "webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", None),
        (b"%PDF-1.7\n", None),
        (b"GIF89a", None),
        (b"", None),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, kind: str | None) -> None:
    assert media.media_sniff(data[:64]) == kind


def test_a_photo_named_like_a_video_is_still_a_photo() -> None:
    checked = media.media_check(upload(image_bytes("PNG"), "clip.mp4", "video/mp4"))
    assert checked.type == "png" and checked.kind == "photo" and checked.extension == "png"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_is_stripped_and_orientation_applied(fmt: str) -> None:
    original = image_bytes(fmt, size=(60, 40), gps=(HK_LAT, HK_LNG), orientation=8, make="Cam")
    assert Image.open(io.BytesIO(original)).getexif()
    checked = media.media_check(upload(original, f"p.{fmt.lower()}"))
    image = Image.open(io.BytesIO(checked.content))
    assert image.format == fmt
    assert dict(image.getexif()) == {}
    assert not {"exif", "xmp", "XML:com.adobe.xmp"} & set(image.info)
    assert image.size == (40, 60) == (checked.width, checked.height)
    assert media.photo_position(checked.content) is None


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_photo_position_reads_the_gps_block(fmt: str) -> None:
    data = image_bytes(fmt, gps=(HK_LAT, HK_LNG))
    position = media.photo_position(upload(data, "p.jpg"))
    assert position is not None
    assert position == pytest.approx((HK_LAT, HK_LNG), abs=1e-5)


def test_photo_position_honours_south_and_west() -> None:
    data = image_bytes(gps=(-33.8568, -70.6483))
    assert media.photo_position(data) == pytest.approx((-33.8568, -70.6483), abs=1e-5)


@pytest.mark.parametrize(
    "data",
    [
        image_bytes(),  # no EXIF
        image_bytes(make="Cam"),  # EXIF without GPS
        image_bytes(gps=(0.0, 0.0)),  # "null island": a phone without a fix
        mp4_bytes(),
        b"not a photo",
        image_bytes()[:100],
    ],
)
def test_photo_position_is_none_without_a_usable_position(data: bytes) -> None:
    assert media.photo_position(upload(data)) is None


def test_photo_position_leaves_the_upload_readable() -> None:
    file = upload(image_bytes(gps=(HK_LAT, HK_LNG)))
    media.photo_position(file)
    assert file.read(3) == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello world, this is text", "not a JPEG"),
        (image_bytes()[:150], "damaged"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 300, "damaged"),
        (image_bytes("PNG")[:-20], "damaged"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 garbage", "damaged"),
    ],
)
def test_bad_files_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(MediaRefused) as caught:
        media.media_check(upload(data, "x.bin"))
    assert message in str(caught.value.message)


def test_an_image_with_too_many_pixels_is_refused(monkeypatch: Any) -> None:
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(MediaRefused) as caught:
        media.media_check(upload(image_bytes(size=(20, 20))))
    assert "pixels" in str(caught.value.message)


def test_a_real_decompression_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, format="PNG")  # 100 MP, a few kB
    with pytest.raises(MediaRefused) as caught:
        media.media_check(upload(out.getvalue(), "bomb.png"))
    assert "pixels" in str(caught.value.message)


def test_limits_come_from_the_settings(settings: Any) -> None:
    settings.FEEDBACK_MAX_PHOTO_BYTES = 1024 * 1024
    settings.FEEDBACK_MAX_VIDEO_BYTES = 3 * 1024 * 1024
    big_video = mp4_bytes(2 * 1024 * 1024)
    assert media.media_check(upload(big_video, "v.mp4")).kind == "video"
    with pytest.raises(MediaRefused) as caught:
        media.media_check(upload(mp4_bytes(3 * 1024 * 1024 + 1), "v.mp4"))
    assert "3 MB" in str(caught.value.message)
    noisy = Image.effect_noise((1200, 1200), 100).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    assert len(out.getvalue()) > 1024 * 1024
    with pytest.raises(MediaRefused) as caught:
        media.media_check(upload(out.getvalue(), "noise.png"))
    assert "1 MB" in str(caught.value.message)


def test_the_declared_size_is_checked_before_reading() -> None:
    file = SimpleUploadedFile("huge.mp4", mp4_bytes())
    file.size = 10**10
    with pytest.raises(MediaRefused):
        media.media_check(file)


def test_media_validate_reports_each_file_by_name() -> None:
    with pytest.raises(ValidationFailed) as caught:
        media.media_validate(
            [upload(image_bytes(), "good.jpg"), upload(b"junk", "a.jpg"), upload(b"", "b.png")]
        )
    messages = [str(m) for m in caught.value.fields["media"]]  # type: ignore[union-attr]
    assert len(messages) == 2
    assert messages[0].startswith("a.jpg: ") and messages[1].startswith("b.png: ")


def test_media_validate_counts_files_and_videos(settings: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        media.media_validate([], required=True)
    assert "media" in caught.value.fields
    assert media.media_validate([]) == []
    settings.FEEDBACK_MAX_FILES = 2
    with pytest.raises(ValidationFailed):
        media.media_validate([upload(image_bytes()) for _ in range(3)])
    with pytest.raises(ValidationFailed) as caught:
        media.media_validate([upload(mp4_bytes(), "a.mp4"), upload(webm_bytes(), "b.webm")])
    assert "one video" in str(caught.value.fields["media"])
    checked = media.media_validate([upload(image_bytes()), upload(webm_bytes(), "b.webm")])
    assert [c.kind for c in checked] == ["photo", "video"]
    assert checked[1].content_type == "video/webm"


def test_redact_fills_black_boxes_clipped_to_the_photo() -> None:
    data = image_bytes("JPEG", size=(50, 40), color=(255, 255, 255), gps=(HK_LAT, HK_LNG))
    content, width, height, kind = media.redact(data, [(-10, -10, 20, 20), (45, 35, 100, 100)])
    assert (width, height, kind) == (50, 40, "jpeg")
    image = Image.open(io.BytesIO(content))
    assert dict(image.getexif()) == {}
    rgb = image.convert("RGB")

    def pixel(x: int, y: int) -> tuple[int, ...]:
        value = rgb.getpixel((x, y))
        assert isinstance(value, tuple)
        return value

    assert max(pixel(2, 2)) < 20 and max(pixel(48, 38)) < 20
    assert min(pixel(25, 20)) > 235


@pytest.mark.parametrize(
    "boxes",
    [[], [(100, 100, 5, 5)], [(0, 0, 0, 5)], [("a", 0, 5, 5)], [(1, 2, 3)]],
)
def test_redact_refuses_boxes_outside_or_malformed(boxes: Any) -> None:
    with pytest.raises(MediaRefused):
        media.redact(image_bytes("PNG", size=(50, 40)), boxes)


def test_redact_keeps_transparency_in_png() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (20, 20), (255, 0, 0, 0)).save(out, format="PNG")
    content, *_rest = media.redact(out.getvalue(), [(0, 0, 10, 10)])
    image = Image.open(io.BytesIO(content))
    assert image.mode == "RGBA"
    assert image.getpixel((5, 5)) == (0, 0, 0, 255)
    assert image.getpixel((15, 15)) == (255, 0, 0, 0)


def test_redact_refuses_a_video() -> None:
    with pytest.raises(MediaRefused):
        media.redact(mp4_bytes(), [(0, 0, 5, 5)])
