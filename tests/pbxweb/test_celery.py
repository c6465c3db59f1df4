"""A real Celery worker takes the email task from the configured broker (memory or Redis)."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from pbxweb.accounts.tasks import send_email
from pbxweb.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


def test_email_task_runs_on_a_worker_through_the_broker() -> None:
    app.conf.task_always_eager = False
    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        result = send_email.delay("Onderwerp", "Inhoud", ["x@example.org"])
        result_id = result.id
        # No result backend: wait for the side effect instead, bounded.
        import time
        deadline = time.monotonic() + 15
        while not mail.outbox and time.monotonic() < deadline:
            time.sleep(0.05)
    assert result_id
    assert [m.subject for m in mail.outbox] == ["Onderwerp"]


def test_smtp_failure_is_retried(monkeypatch) -> None:
    import smtplib

    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise smtplib.SMTPServerDisconnected("gone")
        return 1

    monkeypatch.setattr("pbxweb.accounts.tasks.send_mail", flaky)
    monkeypatch.setattr(send_email, "retry_backoff", False)
    monkeypatch.setattr(send_email, "default_retry_delay", 0)
    result = send_email.apply(args=("s", "b", ["x@example.org"]), throw=False)
    assert result.successful()
    assert calls["n"] == 2
