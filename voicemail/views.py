"""The voicemail page (SPEC.md W8) and its JSON API: only the mailbox's owner may list, play,
download, mark or delete its messages — every URL looks the message up *within the owner's
mailbox*, so another user's id is simply not found (404, no hint that it exists)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from pbxweb.directory.lookup import names_for_numbers
from voicemail.models import Message, MessageState
from voicemail.ranges import ranged_file_response

AUDIO_TYPE = "audio/wav"  # 16-bit PCM WAV: every browser's audio element plays it


def _own(request: HttpRequest, message_id: int) -> Message:
    message = Message.objects.listed().filter(mailbox_id=request.user.pk, pk=message_id).first()
    if message is None:
        raise Http404("No such message.")
    return message


def _rows(request: HttpRequest) -> list[dict[str, Any]]:
    messages = list(Message.objects.listed().filter(mailbox_id=request.user.pk)[:500])
    names = names_for_numbers([m.caller_number for m in messages], viewer=request.user)
    return [{"id": m.pk, "caller_number": m.caller_number,
             "caller_name": names.get(m.caller_number) or m.caller_name,
             "started_at": m.started_at.isoformat(), "duration": round(m.duration_seconds, 1),
             "state": m.state, "message": m} for m in messages]


@login_required
@require_GET
def message_list(request: HttpRequest) -> HttpResponse:
    return render(request, "voicemail/list.html",
                  {"rows": _rows(request), "active_section": "voicemail"})


@login_required
@require_GET
def api_list(request: HttpRequest) -> JsonResponse:
    rows = [{k: v for k, v in row.items() if k != "message"} for row in _rows(request)]
    return JsonResponse({"messages": rows,
                         "new": sum(1 for row in rows if row["state"] == MessageState.NEW)})


@login_required
@require_GET
def audio(request: HttpRequest, message_id: int) -> HttpResponse | FileResponse:
    """Play in the page (ranges for seeking), or ``?download=1`` as an attachment."""
    message = _own(request, message_id)
    try:
        path = message.audio.path
    except (ValueError, NotImplementedError):
        raise Http404("The message has no audio.") from None
    name = f"voicemail-{message.started_at:%Y%m%d-%H%M%S}-{message.pk}.wav"
    try:
        return ranged_file_response(
            Path(path), request.headers.get("Range"), content_type=AUDIO_TYPE,
            filename=name, attachment=request.GET.get("download") == "1")
    except FileNotFoundError:
        raise Http404("The message's audio is gone.") from None


@login_required
@require_POST
def mark(request: HttpRequest, message_id: int) -> HttpResponse:
    """Listened to: the message is saved (no longer new)."""
    message = _own(request, message_id)
    message.state = MessageState.SAVED
    message.save(update_fields=["state"])
    return _done(request, {"id": message.pk, "state": message.state})


@login_required
@require_POST
def delete(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _own(request, message_id)
    message.audio.delete(save=False)
    message.delete()
    return _done(request, {"id": message_id, "deleted": True})


def _done(request: HttpRequest, payload: dict[str, Any]) -> HttpResponse:
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(payload)
    return redirect("voicemail:list")
