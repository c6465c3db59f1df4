"""Celery tasks of the accounts app."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.core.mail import send_mail

SMTP_RETRY_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError)


@shared_task(
    autoretry_for=SMTP_RETRY_ERRORS,
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
    acks_late=True,
)
def send_email(subject: str, body: str, recipients: list[str]) -> int:
    """Send one plain-text email; SMTP failures are retried with backoff."""
    return send_mail(subject, body, None, recipients, fail_silently=False)
