from datetime import UTC, datetime

import pytest
from django.test import Client

from pbxweb.history.models import CallRecord, Direction, Disposition
from tests.factories import make_extension

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client: Client) -> Client:
    client.force_login(make_extension("299", is_staff=True))
    return client


def record(call_id: str, caller_name: str) -> CallRecord:
    return CallRecord.objects.create(
        call_id=call_id, direction=Direction.INBOUND, caller_number="+3250123456",
        caller_name=caller_name, callee_number="201", callee_extension="201",
        started_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), disposition=Disposition.MISSED)


def test_admin_lists_and_searches_call_records(admin_client_: Client) -> None:
    record("c1", "Bibliotheek")
    record("c2", "Zwembad")
    page = admin_client_.get("/admin/history/callrecord/", {"q": "Biblio"})
    assert page.status_code == 200
    assert "Bibliotheek" in page.content.decode() and "Zwembad" not in page.content.decode()
    filtered = admin_client_.get("/admin/history/callrecord/", {"disposition__exact": "missed"})
    assert filtered.status_code == 200 and "Zwembad" in filtered.content.decode()


def test_admin_cannot_add_change_or_delete_call_records(admin_client_: Client) -> None:
    row = record("c1", "Bibliotheek")
    assert admin_client_.get("/admin/history/callrecord/add/").status_code == 403
    assert admin_client_.post(f"/admin/history/callrecord/{row.pk}/change/",
                              {"caller_name": "x"}).status_code == 403
    assert admin_client_.post(f"/admin/history/callrecord/{row.pk}/delete/",
                              {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.caller_name == "Bibliotheek"

