"""The voicemail page (SPEC.md W8) and its JSON API: only the mailbox's owner may list, play,
download, mark or delete its messages — every URL looks the message up *within the owner's
mailbox*, so another user's id is simply not found (404, no hint that it exists)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pbxweb.directory.lookup import names_for_numbers
from voicemail import actions
from voicemail.greetings import GreetingError
from voicemail.models import MailboxSettings, Message, MessageState
from voicemail.ranges import ranged_file_response

AUDIO_TYPE = "audio/wav"  # 16-bit PCM WAV: every browser's audio element plays it


def _own(request: HttpRequest, message_id: int) -> Message:
    message = Message.objects.listed().filter(mailbox_id=request.user.pk, pk=message_id).first()
    if message is None:
        raise Http404("No such message.")
    return message


def _owner_id(request: HttpRequest) -> int:
    """The logged-in extension: every mailbox URL acts on the requester's own box."""
    assert request.user.pk is not None  # login_required
    return int(request.user.pk)


def _rows(request: HttpRequest) -> list[dict[str, Any]]:
    messages = list(Message.objects.listed().filter(mailbox_id=request.user.pk)[:500])
    names = names_for_numbers([m.caller_number for m in messages], viewer=request.user)
    return [{"id": m.pk, "caller_number": m.caller_number,
             "caller_name": names.get(m.caller_number) or m.caller_name,
             "known": m.caller_number in names,
             "started_at": m.started_at.isoformat(), "duration": round(m.duration_seconds, 1),
             "state": m.state, "message": m} for m in messages]


@login_required
@require_GET
def message_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _page(request: HttpRequest, *, greeting_error: str = "", status: int = 200) -> HttpResponse:
    return render(request, "voicemail/list.html",
                  {"rows": _rows(request), "active_section": "voicemail",
                   "box": MailboxSettings.of(_owner_id(request)),
                   "has_email": bool(getattr(request.user, "email", "")),
                   "greeting_error": greeting_error}, status=status)


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


@login_required
@require_POST
def options(request: HttpRequest) -> HttpResponse:
    """The owner's choices: email new messages, delete them once emailed (checkboxes)."""
    box = actions.do_set_mailbox_options(
        _owner_id(request), email_new_messages=request.POST.get("email_new_messages") == "on",
        delete_after_email=request.POST.get("delete_after_email") == "on")
    messages.success(request, _("Voicemail settings saved."))
    return _done(request, {"email_new_messages": box.email_new_messages,
                           "delete_after_email": box.delete_after_email})


@login_required
@require_http_methods(["GET", "POST"])
def greeting(request: HttpRequest) -> HttpResponse | FileResponse:
    """GET plays one's own greeting; POST uploads a new one. There is no id in the URL: it is
    always the logged-in extension's own box, so nobody can reach another's greeting."""
    if request.method == "GET":
        path = MailboxSettings.of(_owner_id(request)).greeting_path()
        if path is None:
            raise Http404("No personal greeting.")
        try:
            return ranged_file_response(Path(path), request.headers.get("Range"),
                                        content_type=AUDIO_TYPE, filename="greeting.wav",
                                        attachment=False)
        except FileNotFoundError:
            raise Http404("The greeting's audio is gone.") from None
    upload = request.FILES.get("greeting")
    try:
        if upload is None:
            raise GreetingError(_("Choose an audio file to upload."))
        if upload.size is not None and upload.size > settings.VOICEMAIL_GREETING_MAX_BYTES:
            # Refused before reading it into memory.
            raise GreetingError(_("The greeting is too large (at most %(mb)s MB).") % {
                "mb": round(settings.VOICEMAIL_GREETING_MAX_BYTES / 1024 / 1024, 1)})
        actions.do_set_greeting(_owner_id(request), upload.read())
    except GreetingError as error:
        if _wants_json(request):
            return JsonResponse({"error": str(error)}, status=error.status)
        return _page(request, greeting_error=str(error), status=error.status)
    messages.success(request, _("Your greeting has been saved."))
    return _done(request, {"greeting": True})


@login_required
@require_POST
def greeting_delete(request: HttpRequest) -> HttpResponse:
    actions.do_remove_greeting(_owner_id(request))
    messages.success(request, _("Callers hear the standard greeting again."))
    return _done(request, {"greeting": False})


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _done(request: HttpRequest, payload: dict[str, Any]) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(payload)
    return redirect("voicemail:list")
