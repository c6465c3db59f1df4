"""The chat page and the file URLs (downloads and picture previews).

Files are served only to members of the file's conversation (404 for everyone else, as if it
did not exist), always as a download (``Content-Disposition: attachment``) with
``X-Content-Type-Options: nosniff`` and a CSP that forbids everything, so no upload can ever
run as a page on our origin. Previews are the PNGs we re-encoded ourselves.
"""

from __future__ import annotations

import uuid
from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from pbxweb.accounts.models import Extension
from pbxweb.chat import files, lib
from pbxweb.chat.errors import NotFound
from pbxweb.chat.models import MAX_TEXT_LENGTH, Attachment


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/home.html", {
        "active_section": "chat",
        "max_text_length": MAX_TEXT_LENGTH,
        "max_file_bytes": files.max_bytes(),
        "labels": {
            "sending": _("Sending…"), "sent": _("Sent"), "delivered": _("Delivered"),
            "read": _("Read"), "failed": _("Not sent"), "you": _("You"),
            "unread": _("%(n)s unread"), "archived": _("Archived"),
            "newMessage": _("New message from %(name)s"), "file": _("File"),
            "fileTooLarge": _("The file is too large (at most %(mb)s MB).")
            % {"mb": files.max_bytes() // (1024 * 1024)},
            "noResults": _("Nothing found."), "choose": _("Choose a conversation"),
            "download": _("Download %(name)s"),
        },
    })


def _attachment(request: HttpRequest, key: uuid.UUID) -> Attachment:
    try:
        return lib.attachment_for(cast(Extension, request.user), key)
    except NotFound:
        raise Http404 from None


def _harden(response: HttpResponseBase) -> HttpResponseBase:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def attachment_download(request: HttpRequest, key: uuid.UUID) -> HttpResponseBase:
    attachment = _attachment(request, key)
    response = FileResponse(attachment.file.open("rb"), as_attachment=True,
                            filename=attachment.name, content_type=attachment.content_type)
    return _harden(response)


@login_required
@require_GET
def attachment_preview(request: HttpRequest, key: uuid.UUID) -> HttpResponseBase:
    attachment = _attachment(request, key)
    if not attachment.preview:
        raise Http404
    response = FileResponse(attachment.preview.open("rb"), content_type="image/png")
    # The preview is shown in the page, so it is inline; it is our own PNG, nothing else.
    response["Content-Disposition"] = 'inline; filename="preview.png"'
    return _harden(response)
