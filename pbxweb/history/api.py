"""/api/history/ (DRF, session auth, read-only): the caller's own calls, same filters as the
page (``kind``, ``q``, ``date_from``, ``date_to``). Another extension's call is 404. Reading
missed calls here does not mark them seen: a GET through the API changes nothing.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from pbxweb.history.lib import HistoryRow, HistorySearchForm, calls_for, rows_for
from pbxweb.history.models import CallRecord


class HistoryPagination(PageNumberPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class HistoryRowSerializer(serializers.Serializer):
    def to_representation(self, row: HistoryRow) -> dict[str, Any]:
        record = row.record
        return {
            "id": record.pk,
            "kind": row.kind,
            "direction": "outgoing" if row.outgoing else "incoming",
            "disposition": record.disposition,
            "other_number": row.other_number,
            "other_name": row.other_name,
            "answered_by": row.answered_by,
            "answered_by_name": row.answered_by_name,
            "started_at": record.started_at.isoformat(),
            "answered_at": record.answered_at.isoformat() if record.answered_at else None,
            "ended_at": record.ended_at.isoformat() if record.ended_at else None,
            "duration_seconds": record.duration_seconds,
            "seen": record.seen,
        }


class CallHistoryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = HistoryRowSerializer
    pagination_class = HistoryPagination

    def _number(self) -> str:
        return str(self.request.user.number)  # type: ignore[union-attr]

    def get_queryset(self) -> Any:
        if self.action != "list":
            return CallRecord.objects.for_extension(self._number())
        form = HistorySearchForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors.get_json_data())
        data = form.cleaned_data
        return calls_for(self._number(), viewer=self.request.user, kind=data["kind"],
                         text=data["q"], date_from=data["date_from"],
                         date_to=data["date_to"])

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = rows_for(page or [], number=self._number(), viewer=request.user)
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        record = self.get_object()
        row = rows_for([record], number=self._number(), viewer=request.user)[0]
        return Response(self.get_serializer(row).data)
