"""The call history page (SPEC.md W7, C10): the user's own calls, filtered, searchable, with
call back and "add to contacts". Looking at the missed calls marks them seen (the menu badge).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from pbxweb.history.lib import HistorySearchForm, calls_for, rows_for
from pbxweb.history.models import CallRecord, HistoryFilter

PAGE_SIZE = 50


@login_required
@require_GET
def call_list(request: HttpRequest) -> HttpResponse:
    number = request.user.number  # type: ignore[union-attr]
    form = HistorySearchForm(request.GET)
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        calls = calls_for(number, viewer=request.user, kind=data["kind"], text=data["q"],
                          date_from=data["date_from"], date_to=data["date_to"])
        kind = data["kind"]
    else:
        # Bad dates or an unknown filter: say so, and show nothing rather than everything.
        calls = CallRecord.objects.none()
        kind = ""
        status = 400
    page = Paginator(calls, PAGE_SIZE, allow_empty_first_page=True)\
        .get_page(request.GET.get("page"))
    rows = rows_for(page.object_list, number=number, viewer=request.user)
    if kind == HistoryFilter.MISSED:
        # After the rows were read, so that this page can still show which ones were new.
        CallRecord.objects.mark_missed_seen(number)
    filters = [("", _("all calls")), *HistoryFilter.choices]
    return render(request, "history/call_list.html", {
        "active_section": "history", "form": form, "page": page, "rows": rows,
        "kind": kind, "filters": filters,
        "query_without_kind": _query_without(request, "kind", "page"),
    }, status=status)


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()
