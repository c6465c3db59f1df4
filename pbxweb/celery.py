"""The Celery app (``celery -A pbxweb worker -B``); tasks run eagerly in the embedded default."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbxweb.settings")

app = Celery("pbxweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
