"""What the engine keeps in the database: registrations survive an engine restart."""

from __future__ import annotations

from django.db import models


class Registration(models.Model):
    """One binding of an extension (AoR) to a device contact (RFC 3261 §10)."""

    aor = models.CharField(max_length=32, db_index=True)
    contact = models.CharField(max_length=512)
    expires_at = models.FloatField(help_text="epoch seconds")
    call_id = models.CharField(max_length=256)
    cseq = models.BigIntegerField()
    q = models.FloatField(default=1.0)
    source = models.CharField(max_length=128, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["aor", "contact"], name="registration_unique_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.aor} -> {self.contact}"
