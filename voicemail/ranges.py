"""HTTP Range requests (RFC 9110 §14) for message audio, so the browser's player can seek.

One range per request (what audio elements ask for); anything else is answered with the whole
file (a Range header may be ignored, §14.2). A range wholly past the end is 416 with
``Content-Range: bytes */<size>`` (§15.5.17).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.http import FileResponse, HttpResponse
from django.utils.http import content_disposition_header

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def ranged_file_response(path: Path, range_header: str | None, *, content_type: str,
                         filename: str, attachment: bool) -> HttpResponse | FileResponse:
    size = path.stat().st_size
    match = _RANGE.match((range_header or "").strip())
    start, end = 0, size - 1
    partial = False
    if match and (match[1] or match[2]):
        if match[1]:
            start = int(match[1])
            end = min(int(match[2]), size - 1) if match[2] else size - 1
        else:  # a suffix: the last N bytes
            start, end = max(0, size - int(match[2])), size - 1
        if start >= size or start > end:
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
        partial = True
    handle = path.open("rb")
    handle.seek(start)
    response = FileResponse(_limited(handle, end - start + 1), content_type=content_type,
                            status=206 if partial else 200)
    response["Content-Disposition"] = content_disposition_header(attachment, filename) or ""
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if partial:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _limited(handle: BinaryIO, length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()
