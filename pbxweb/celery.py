"""The Celery app (``celery -A pbxweb worker -B``); tasks run eagerly in the embedded default.

Periodic tasks are listed here (``-B`` runs the beat scheduler inside the worker; run exactly
one beat process per installation)."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbxweb.settings")

app = Celery("pbxweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    # GDPR: voicemail older than VOICEMAIL_RETENTION_DAYS, nightly (CELERY_TIMEZONE).
    "voicemail-retention": {
        "task": "voicemail.tasks.remove_old_messages",
        "schedule": crontab(hour=3, minute=30),
    },
}
