"""The call history page: one's own calls only, the four filters, search by name or number,
date range, names from the contacts, call back, add to contacts, paging, and the missed-call
badge that disappears once the missed calls have been looked at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.test import Client

from pbxweb.directory.models import Contact
from pbxweb.history.models import CallRecord, Direction, Disposition

pytestmark = pytest.mark.django_db

URL = "/webclient/history/"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_ids = count(1)


@pytest.fixture(autouse=True)
def _fresh_call_ids() -> None:
    global _ids
    _ids = count(1)


def call(caller: str, callee: str, disposition: Disposition = Disposition.ANSWERED, *,
         minute: int = 0, caller_name: str = "", answered_by: str = "",
         duration: float = 0.0, seen: bool = False) -> CallRecord:
    """Three-digit numbers are our extensions, the rest are outside numbers (E.164)."""
    caller_extension = caller if len(caller) == 3 else None
    callee_extension = callee if len(callee) == 3 else None
    direction = (Direction.INTERNAL if caller_extension and callee_extension
                 else Direction.INBOUND if callee_extension else Direction.OUTBOUND)
    started = T0 + timedelta(minutes=minute)
    answered = disposition == Disposition.ANSWERED
    return CallRecord.objects.create(
        call_id=f"h{next(_ids)}", direction=direction, caller_number=caller,
        caller_name=caller_name, callee_number=callee, caller_extension=caller_extension,
        callee_extension=callee_extension, started_at=started,
        answered_at=started + timedelta(seconds=5) if answered else None,
        answered_by=answered_by or (callee if answered else ""),
        duration_seconds=duration, disposition=disposition, seen=seen)


def row_of(page: str, record: CallRecord) -> str:
    return page.split(f'data-call="{record.pk}"')[1].split("</tr>")[0]


def rows(client: Client, **params: str) -> list[str]:
    """The call IDs on the page, top to bottom."""
    page = client.get(URL, params).content.decode()
    ids = {str(r.pk): r.call_id for r in CallRecord.objects.all()}
    return [ids[chunk.split('"', 1)[0]] for chunk in page.split('data-call="')[1:]]


@pytest.fixture
def morning(onthaal, loket) -> dict[str, CallRecord]:
    return {
        "in_answered": call("202", "201", minute=1, duration=75),
        "out_answered": call("201", "+3250123456", minute=2, duration=3725),
        "in_missed": call("+32470000001", "201", Disposition.MISSED, minute=3,
                          caller_name="CARRIER NAME"),
        "out_aborted": call("201", "+32470000002", Disposition.CANCELLED, minute=4),
        "in_busy": call("203", "201", Disposition.BUSY, minute=5),
        "others": call("202", "203", minute=6),
        "others_missed": call("+32470000001", "202", Disposition.MISSED, minute=7),
    }


def test_history_in_the_menu_and_only_own_calls_newest_first(onthaal_client, morning):
    assert rows(onthaal_client) == ["h5", "h4", "h3", "h2", "h1"]
    page = onthaal_client.get(URL).content.decode()
    assert ">Oproepgeschiedenis" in page


@pytest.mark.parametrize(("kind", "expected"), [
    ("incoming", ["h5", "h3", "h1"]), ("outgoing", ["h4", "h2"]),
    ("missed", ["h5", "h3"]), ("aborted", ["h4"])])
def test_filters(onthaal_client, morning, kind, expected):
    assert rows(onthaal_client, kind=kind) == expected


def test_each_row_shows_name_number_time_duration_and_who_answered(onthaal, onthaal_client,
                                                                   morning):
    Contact.objects.create(owner=onthaal, name="Aannemer Invented", work_number="050 12 34 56")
    page = onthaal_client.get(URL).content.decode()
    row = row_of(page, morning["out_answered"])
    assert "Aannemer Invented" in row and "050 12 34 56" in row and "1:02:05" in row
    assert 'href="tel:+3250123456" data-dial="+3250123456">Terugbellen</a>' in row
    assert "Toevoegen aan contacten" not in row  # already a contact
    incoming = row_of(page, morning["in_answered"])
    assert "Bevolking Loket 1" in incoming and "1:15" in incoming and "Onthaal" in incoming
    missed = row_of(page, morning["in_missed"])
    # No contact: the carrier's name, and "add to contacts" prefilled with the number.
    assert "CARRIER NAME" in missed
    assert "/webclient/contacts/new/?number=%2B32470000001&amp;name=CARRIER%20NAME" in missed


def test_search_by_name_of_a_contact_or_colleague_and_by_number(onthaal, onthaal_client,
                                                                morning):
    Contact.objects.create(owner=onthaal, name="Schilder Invented", mobile_number="0470000002")
    assert rows(onthaal_client, q="schilder") == ["h4"]
    assert rows(onthaal_client, q="Loket") == ["h1"]
    assert rows(onthaal_client, q="carrier") == ["h3"]
    assert rows(onthaal_client, q="0470 00 00 01") == ["h3"]
    assert rows(onthaal_client, q="+32470000002") == ["h4"]
    assert rows(onthaal_client, q="0032 50 12") == ["h2"]
    assert rows(onthaal_client, q="203") == ["h5"]
    assert rows(onthaal_client, q="niemand") == []


def test_date_range_in_local_days(onthaal, onthaal_client):
    call("202", "201", minute=0)  # 2026-03-02 10:00 Brussels
    call("202", "201", minute=60 * 24)  # 2026-03-03
    call("202", "201", minute=60 * 24 * 2)  # 2026-03-04
    assert rows(onthaal_client, date_from="2026-03-03") == ["h3", "h2"]
    assert len(rows(onthaal_client, date_from="2026-03-03", date_to="2026-03-03")) == 1
    assert len(rows(onthaal_client, date_to="2026-03-02")) == 1
    bad = onthaal_client.get(URL, {"date_from": "2026-03-04", "date_to": "2026-03-02"})
    assert bad.status_code == 400 and "De begindatum ligt na de einddatum." in bad.content\
        .decode()
    assert onthaal_client.get(URL, {"date_from": "gisteren"}).status_code == 400
    assert onthaal_client.get(URL, {"kind": "deleted"}).status_code == 400


def test_missed_badge_until_the_missed_filter_is_visited(onthaal_client, morning):
    home = onthaal_client.get("/webclient/").content.decode()
    assert 'class="badge" title="Gemiste oproepen">2</span>' in home
    # The "all" view does not mark anything seen.
    onthaal_client.get(URL)
    assert 'class="badge"' in onthaal_client.get("/webclient/").content.decode()
    missed = onthaal_client.get(URL, {"kind": "missed"}).content.decode()
    assert missed.count("call-new") == 2  # this visit still shows which ones were new
    assert 'class="badge"' not in missed
    assert 'class="badge"' not in onthaal_client.get("/webclient/").content.decode()
    assert CallRecord.objects.get(call_id="h7").seen is False  # someone else's missed call


def test_paging_fifty_per_page(onthaal, onthaal_client):
    CallRecord.objects.bulk_create([CallRecord(
        call_id=f"p{i}", direction=Direction.INTERNAL, caller_number="202",
        callee_number="201", caller_extension="202", callee_extension="201",
        started_at=T0 + timedelta(minutes=i)) for i in range(120)])
    first = rows(onthaal_client)
    assert len(first) == 50 and first[0] == "p119"
    assert rows(onthaal_client, page="3") == [f"p{i}" for i in range(19, -1, -1)]
    page = onthaal_client.get(URL, {"kind": "incoming", "page": "2"}).content.decode()
    assert "kind=incoming&amp;page=3" in page and "Pagina 2 van 3" in page


def test_other_extensions_cannot_see_my_calls(morning, loket):
    client = Client()
    client.force_login(loket)
    page = client.get(URL).content.decode()
    assert f'data-call="{morning["out_answered"].pk}"' not in page
    assert f'data-call="{morning["others"].pk}"' in page


def test_login_required(client: Client):
    assert client.get(URL).status_code == 302
