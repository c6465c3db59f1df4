"""/api/history/: read-only, one's own calls, the page's filters; another's call is 404."""

from __future__ import annotations

import pytest
from django.test import Client

from pbxweb.directory.models import Contact
from pbxweb.history.models import CallRecord, Disposition
from tests.pbxweb.history.test_pages import call

pytestmark = pytest.mark.django_db

API = "/api/history/"


@pytest.fixture
def calls(onthaal, loket) -> dict[str, CallRecord]:
    Contact.objects.create(owner=onthaal, name="Aannemer Invented", work_number="050 12 34 56")
    return {
        "in_answered": call("202", "201", minute=1, duration=75),
        "out_answered": call("201", "+3250123456", minute=2, duration=30),
        "in_missed": call("+32470000001", "201", Disposition.MISSED, minute=3),
        "others": call("202", "203", minute=4),
    }


def test_list_own_calls_with_names(onthaal_client: Client, calls):
    body = onthaal_client.get(API).json()
    assert body["count"] == 3
    first = body["results"][1]
    assert (first["kind"], first["other_number"], first["other_name"], first["direction"],
            first["duration_seconds"]) == (
        "outgoing", "+3250123456", "Aannemer Invented", "outgoing", 30.0)
    assert body["results"][2]["other_name"] == "Bevolking Loket 1"
    assert body["results"][2]["answered_by_name"] == "Onthaal"


def test_same_filters_as_the_page_and_reading_marks_nothing_seen(onthaal_client, calls):
    missed = onthaal_client.get(API, {"kind": "missed"}).json()
    assert [r["id"] for r in missed["results"]] == [calls["in_missed"].pk]
    assert CallRecord.objects.get(pk=calls["in_missed"].pk).seen is False
    assert onthaal_client.get(API, {"q": "aannemer"}).json()["count"] == 1
    assert onthaal_client.get(API, {"date_from": "2026-03-03"}).json()["count"] == 0
    bad = onthaal_client.get(API, {"kind": "deleted", "date_to": "morgen"})
    assert bad.status_code == 400 and set(bad.json()) == {"kind", "date_to"}


def test_one_call_and_another_extensions_call(onthaal_client, calls):
    mine = onthaal_client.get(f"{API}{calls['in_missed'].pk}/")
    assert mine.status_code == 200 and mine.json()["kind"] == "missed"
    assert onthaal_client.get(f"{API}{calls['others'].pk}/").status_code == 404


def test_read_only(onthaal_client, calls):
    url = f"{API}{calls['in_missed'].pk}/"
    assert onthaal_client.delete(url).status_code == 405
    assert onthaal_client.post(API, {}).status_code == 405
    assert CallRecord.objects.count() == 4


def test_needs_a_session(client: Client):
    assert client.get(API).status_code in (401, 403)
