"""What an upload is, by its bytes: the allow-list, refused markup, names and previews."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from pbxweb.chat import files
from tests.pbxweb.chat.helpers import HTML, SVG, jpeg_bytes, png_bytes


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("data,expected", [
    (png_bytes(), "image/png"),
    (jpeg_bytes(), "image/jpeg"),
    (b"%PDF-1.7\n...", "application/pdf"),
    ("Vergadering om 10 u, zaal 2 — café".encode(), "text/plain"),
    (b"naam;nummer\nOnthaal;201\n", "text/plain"),
    (_zip({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<t/>"}),
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (_zip({"mimetype": b"application/vnd.oasis.opendocument.text"}),
     "application/vnd.oasis.opendocument.text"),
    (_zip({"notes.txt": b"hallo"}), "application/zip"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
])
def test_the_content_decides_the_type(data: bytes, expected: str) -> None:
    assert files.sniff_content_type(data) == expected


@pytest.mark.parametrize("data,code", [
    (HTML, "active_content"),
    (SVG, "active_content"),
    (b"   <svg onload=alert(1)>", "active_content"),
    (b"gewoon tekst\n<script>alert(1)</script>", "active_content"),
    (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64, "unsupported_type"),
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "unsupported_type"),
    (b"", "empty_file"),
])
def test_markup_executables_and_empty_files_are_refused(data: bytes, code: str) -> None:
    with pytest.raises(files.FileRefused) as refused:
        files.sniff_content_type(data)
    assert refused.value.code == code
    assert str(refused.value)


def test_a_png_name_does_not_make_html_a_picture() -> None:
    # The name is never consulted; only the bytes are.
    with pytest.raises(files.FileRefused):
        files.sniff_content_type(HTML)


def test_files_over_the_cap_are_refused(settings) -> None:
    settings.CHAT_ATTACHMENT_MAX_BYTES = 1000
    with pytest.raises(files.FileRefused) as refused:
        files.sniff_content_type(b"a" * 1001)
    assert refused.value.code == "file_too_large"
    assert files.sniff_content_type(b"a" * 1000) == "text/plain"


@pytest.mark.parametrize("name,expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
    ("verslag raad.pdf", "verslag raad.pdf"),
    ("a\x00b\nc.txt", "a_b_c.txt"),
    ("..", "file"),
    ("", "file"),
    ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
])
def test_file_names_are_cleaned_to_a_single_safe_component(name: str, expected: str) -> None:
    assert files.clean_file_name(name) == expected


def test_previews_are_re_encoded_png_no_larger_than_the_cap() -> None:
    preview = files.make_preview(jpeg_bytes())
    assert preview.png.startswith(b"\x89PNG")
    assert max(preview.width, preview.height) == files.PREVIEW_MAX_SIDE
    with Image.open(io.BytesIO(preview.png)) as image:
        assert image.format == "PNG" and image.size == (preview.width, preview.height)


def test_a_damaged_picture_is_refused() -> None:
    with pytest.raises(files.FileRefused) as refused:
        files.make_preview(png_bytes()[:60])
    assert refused.value.code == "bad_image"
