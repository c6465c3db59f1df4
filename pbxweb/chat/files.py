"""Shared files: what an upload really is, judged by its bytes, and a safe picture preview.

The browser's name and Content-Type are ignored. An upload is accepted only if its first bytes
match a format on the allow-list below; anything a browser could render as active content
(HTML, SVG, XML) is refused even if it would also pass as text. Files are stored under
generated names and always downloaded as attachments (``views.attachment_download``); pictures
get a PNG preview re-encoded by Pillow, so the preview never carries the uploaded bytes.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
PREVIEW_MAX_SIDE = 640
PREVIEW_MAX_PIXELS = 40_000_000
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

# (magic prefix at offset 0, content type)
_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/vnd.ms-office"),  # .doc/.xls/.msg
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
)
_ZIP_MAGIC = b"PK\x03\x04"
# Office Open XML parts that name the document kind.
_OOXML_PARTS = (
    ("word/document.xml",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ppt/presentation.xml",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
# Markup a browser may execute or render: refused in any text file, wherever it starts.
_ACTIVE_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|head|body|script|svg|iframe|object|embed|\?xml|meta|link|style)\b",
    re.IGNORECASE,
)
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


class FileRefused(ValueError):
    """The upload cannot be shared; ``code`` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Preview:
    png: bytes
    width: int
    height: int


def max_bytes() -> int:
    return int(getattr(settings, "CHAT_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def check_size(size: int) -> None:
    if size == 0:
        raise FileRefused("empty_file", _("The file is empty."))
    if size > max_bytes():
        raise FileRefused("file_too_large",
                          _("The file is too large (at most %(mb)s MB).")
                          % {"mb": max_bytes() // (1024 * 1024)})


def sniff_content_type(data: bytes) -> str:
    """The content type ``data`` really has, or :class:`FileRefused`."""
    check_size(len(data))
    head = data[:4096]
    for prefix, content_type in _PREFIXES:
        if head.startswith(prefix):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(data)
    if _is_plain_text(data):
        return "text/plain"
    if _ACTIVE_MARKUP.search(head):
        raise FileRefused("active_content", _("Web pages, SVG and XML files cannot be shared."))
    raise FileRefused("unsupported_type", _("This kind of file cannot be shared. Pictures, PDF, "
                                            "office documents, text, audio and ZIP files can."))


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                # OpenDocument: the first entry, stored uncompressed, names the type.
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared.startswith("application/vnd.oasis.opendocument."):
                    return declared
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FileRefused("unsupported_type", _("This ZIP file is damaged.")) from exc
    for part, content_type in _OOXML_PARTS:
        if part in names:
            return content_type
    return "application/zip"


def _is_plain_text(data: bytes) -> bool:
    head = data[:65536]
    if b"\x00" in head or _ACTIVE_MARKUP.search(data):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return False
    return True


def clean_file_name(name: str) -> str:
    """A display/download name: the last path component, no control or path characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip(" .")
    if len(name) > 120:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: 120 - len(suffix) - 1] + dot + suffix) if dot and len(suffix) <= 10 \
            else name[:120]
    return name or "file"


def make_preview(data: bytes) -> Preview:
    """A PNG no larger than PREVIEW_MAX_SIDE, decoded and re-encoded by Pillow."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > PREVIEW_MAX_PIXELS:
                    raise FileRefused("bad_image", _("The picture has too many pixels."))
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)
                image.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
                picture = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except FileRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise FileRefused("bad_image", _("This picture is damaged or cannot be read.")) from exc
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=False)
    return Preview(out.getvalue(), picture.width, picture.height)
