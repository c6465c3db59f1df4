"""REST API (DRF, session auth): the page uses it, and so can scripts.

Views parse and authorise only; changes go through ``actions`` and reads through ``lib``, which
both start from the requesting extension's memberships. A conversation, message or file of
which the caller is not a member answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import Q
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from pbxweb.accounts.models import Extension
from pbxweb.chat import actions, events, files, lib
from pbxweb.chat.errors import ChatError


class ChatSendThrottle(UserRateThrottle):
    """Sending over REST is capped like the socket: a script cannot flood a conversation."""

    scope = "chat_send"
    rate = "600/min"

    def get_rate(self) -> str:
        return self.rate


class ChatView(APIView):
    parser_classes = [JSONParser, FormParser]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, files.FileRefused):
            return Response({"code": exc.code, "detail": str(exc)},
                            status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, ChatError):
            return Response({"code": exc.code, "detail": exc.message}, status=exc.status)
        return super().handle_exception(exc)

    @property
    def extension(self) -> Extension:
        return cast(Extension, self.request.user)


def _int_param(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: _("A whole number is expected.")}) from None
    if value < 0:
        raise ValidationError({name: _("A whole number is expected.")})
    return value


class ConversationList(ChatView):
    """GET: my conversations (``?archived=1`` for the archive). POST: start one —
    ``{"kind": "direct", "with": "202"}`` or ``{"kind": "group", "title": …, "members": […]}``."""

    def get(self, request: Request) -> Response:
        archived = request.query_params.get("archived") in {"1", "true"}
        return Response({"conversations": lib.conversation_views(self.extension,
                                                                 archived=archived)})

    def post(self, request: Request) -> Response:
        data: Any = request.data
        kind = data.get("kind", "direct") if hasattr(data, "get") else None
        if kind == "direct":
            conversation = actions.do_start_direct(self.extension, data.get("with"))
        elif kind == "group":
            members = data.getlist("members") if hasattr(data, "getlist") else data.get("members")
            conversation = actions.do_create_group(self.extension, data.get("title"), members)
        else:
            return Response({"code": "bad_message",
                             "detail": _("kind must be 'direct' or 'group'.")},
                            status=status.HTTP_400_BAD_REQUEST)
        return Response(lib.conversation_view(self.extension, conversation.pk),
                        status=status.HTTP_201_CREATED)


class ConversationDetail(ChatView):
    def get(self, request: Request, conversation_id: int) -> Response:
        return Response(lib.conversation_view(self.extension, conversation_id))


class MessageList(ChatView):
    """GET: a page of messages, oldest first (``?before=<id>&limit=<n>`` to scroll back).
    POST: send ``{"text": …, "client_id": …}``."""

    def get_throttles(self) -> list[Any]:
        return [ChatSendThrottle()] if self.request.method == "POST" else []

    def get(self, request: Request, conversation_id: int) -> Response:
        membership = lib.membership_of(self.extension, conversation_id)
        page, has_more = lib.messages_page(
            membership, before=_int_param(request, "before"),
            limit=_int_param(request, "limit", lib.PAGE_SIZE) or lib.PAGE_SIZE)
        if page:
            # Whatever the browser loaded has reached it.
            actions.do_mark_delivered(self.extension, conversation_id, page[-1].pk)
        return Response({"messages": [events.message_dict(m) for m in page],
                         "has_more": has_more})

    def post(self, request: Request, conversation_id: int) -> Response:
        data: Any = request.data
        if not hasattr(data, "get"):
            return Response({"code": "bad_message", "detail": _("A JSON object is expected.")},
                            status=status.HTTP_400_BAD_REQUEST)
        message, created = actions.do_send_message(self.extension, conversation_id,
                                                   data.get("text"), data.get("client_id"))
        return Response(events.message_dict(message),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MarkRead(ChatView):
    """POST ``{"message": <id>}`` (or nothing: everything) → ``{"unread": n}``."""

    def post(self, request: Request, conversation_id: int) -> Response:
        data: Any = request.data
        up_to = data.get("message") if hasattr(data, "get") else None
        if isinstance(up_to, str) and up_to.isdigit():
            up_to = int(up_to)
        unread = actions.do_mark_read(self.extension, conversation_id, up_to)
        return Response({"unread": unread})


class Archive(ChatView):
    def post(self, request: Request, conversation_id: int) -> Response:
        actions.do_archive(self.extension, conversation_id)
        return Response(lib.conversation_view(self.extension, conversation_id))


class Restore(ChatView):
    def post(self, request: Request, conversation_id: int) -> Response:
        actions.do_restore(self.extension, conversation_id)
        return Response(lib.conversation_view(self.extension, conversation_id))


class AttachmentUpload(ChatView):
    """POST multipart ``file`` (+ optional ``text``, ``client_id``): a message with the file."""

    parser_classes = [MultiPartParser]

    def get_throttles(self) -> list[Any]:
        return [ChatSendThrottle()]

    def post(self, request: Request, conversation_id: int) -> Response:
        lib.membership_of(self.extension, conversation_id)  # 404 before reading the upload
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"code": "no_file", "detail": _("Choose a file to share.")},
                            status=status.HTTP_400_BAD_REQUEST)
        files.check_size(upload.size or 0)
        data: Any = request.data
        message = actions.do_share_file(self.extension, conversation_id, upload.name or "",
                                        upload.read(), data.get("text", ""),
                                        data.get("client_id") or None)
        return Response(events.message_dict(message), status=status.HTTP_201_CREATED)


class Unread(ChatView):
    def get(self, request: Request) -> Response:
        counts = lib.unread_counts(self.extension)
        return Response({"total": sum(counts.values()),
                         "conversations": {str(k): v for k, v in counts.items()}})


class Search(ChatView):
    """GET ``?q=…``: matching messages (archived conversations too) and conversations."""

    def get(self, request: Request) -> Response:
        text = (request.query_params.get("q") or "").strip()[:100]
        if not text:
            return Response({"messages": [], "conversations": []})
        messages = lib.search(self.extension, text)
        conversations = [c for c in lib.conversation_views(self.extension, archived=None)
                         if text.casefold() in c["title"].casefold()]
        return Response({"messages": [events.message_dict(m) for m in messages],
                         "conversations": conversations})


class Colleagues(ChatView):
    """GET ``?q=…``: colleagues to start a chat with (number or name)."""

    def get(self, request: Request) -> Response:
        query = Extension.objects.filter(is_active=True).exclude(pk=self.extension.pk)
        text = (request.query_params.get("q") or "").strip()[:40]
        if text:
            query = query.filter(Q(number__startswith=text) | Q(first_name__icontains=text)
                                 | Q(last_name__icontains=text))
        return Response({"colleagues": [events.person_dict(e)
                                        for e in query.order_by("number")[:300]]})
