"""Builders for chat tests: colleagues by role name, pictures and files made in memory."""

from __future__ import annotations

import io

from PIL import Image

from pbxweb.accounts.models import Extension
from tests.factories import make_extension


def colleagues() -> tuple[Extension, Extension, Extension]:
    """Onthaal (201), Bib (202) and Bevolking-Loket 1 (203)."""
    return (make_extension("201", first_name="Onthaal"),
            make_extension("202", first_name="Bib"),
            make_extension("203", first_name="Bevolking-Loket 1"))


def png_bytes(width: int = 40, height: int = 30, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), "blue").save(out, format="JPEG")
    return out.getvalue()


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
       b"<script>alert(document.cookie)</script></svg>")
HTML = b"<!DOCTYPE html><html><body><script>fetch('/api/chat/')</script></body></html>"
