"""Profile pictures: validated with Pillow, re-encoded, never served as uploaded (W3)."""

from __future__ import annotations

import io
import warnings

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})


class AvatarError(ValueError):
    """The upload is not an acceptable picture; the message is shown to the user."""


def reencode_avatar(data: bytes) -> bytes:
    """Return a square PNG thumbnail of ``data`` or raise :class:`AvatarError`.

    Re-encoding drops whatever else the file carried (metadata, polyglot payloads, scripts).
    """
    if not data:
        raise AvatarError(_("The file is empty."))
    if len(data) > settings.AVATAR_MAX_BYTES:
        raise AvatarError(
            _("The picture is too large (at most %(mb)s MB).")
            % {"mb": settings.AVATAR_MAX_BYTES // (1024 * 1024)}
        )
    Image.MAX_IMAGE_PIXELS = settings.AVATAR_MAX_PIXELS
    try:
        picture = _decode(data)
    except AvatarError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, OSError, SyntaxError, ValueError) as exc:
        raise AvatarError(_("This file is not a picture we can read.")) from exc
    side = min(picture.size)
    left = (picture.width - side) // 2
    top = (picture.height - side) // 2
    picture = picture.crop((left, top, left + side, top + side))
    size = settings.AVATAR_SIZE
    picture = picture.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _decode(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow only warns between 1x and 2x the pixel cap; we refuse from 1x on.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise AvatarError(_("Only PNG, JPEG, GIF or WebP pictures are accepted."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.convert("RGB")
