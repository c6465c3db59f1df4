"""GDPR retention (issue #9): messages older than VOICEMAIL_RETENTION_DAYS go, rows and files,
nightly through Celery beat; 0 keeps them forever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pbxweb.accounts.models import Extension
from pbxweb.celery import app
from tests.factories import make_extension
from tests.voicemail.helpers import stored_message
from voicemail import actions
from voicemail.models import Message, MessageState
from voicemail.tasks import remove_old_messages

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _retention(settings: Any) -> None:
    settings.VOICEMAIL_RETENTION_DAYS = 90


@pytest.fixture
def owner() -> Extension:
    return make_extension("202", first_name="Bib")


def test_messages_past_the_retention_are_removed_with_their_files(owner: Extension) -> None:
    old = stored_message(owner, started_at=NOW - timedelta(days=90, minutes=1),
                         state=MessageState.SAVED)
    old_new = stored_message(owner, started_at=NOW - timedelta(days=200))
    recent = stored_message(owner, started_at=NOW - timedelta(days=89, hours=23))
    files = [Path(m.audio.path) for m in (old, old_new, recent)]
    assert actions.do_remove_old_messages(NOW) == 2
    assert list(Message.objects.values_list("pk", flat=True)) == [recent.pk]
    assert [f.exists() for f in files] == [False, False, True]


def test_zero_days_keeps_everything(owner: Extension, settings: Any) -> None:
    settings.VOICEMAIL_RETENTION_DAYS = 0
    stored_message(owner, started_at=NOW - timedelta(days=3650))
    assert actions.do_remove_old_messages(NOW) == 0
    assert Message.objects.count() == 1


def test_the_nightly_task_uses_the_clock_and_is_on_the_beat_schedule(
        owner: Extension, monkeypatch: pytest.MonkeyPatch) -> None:
    stored_message(owner, started_at=NOW - timedelta(days=91))
    monkeypatch.setattr("voicemail.tasks.timezone.now", lambda: NOW)
    assert remove_old_messages.apply().get() == 1
    entry = app.conf.beat_schedule["voicemail-retention"]
    assert entry["task"] == remove_old_messages.name == "voicemail.tasks.remove_old_messages"
    assert entry["task"] in app.tasks
