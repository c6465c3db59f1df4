"""Where message audio lives: a private folder, never under a public URL.

Files are served only through the owner-checked views (``voicemail.views``); the storage has
no ``base_url``. The engine writes a message straight into its file while recording
(``OrmStore.open_voicemail`` hands it ``storage.path(name)``), so this must be a local
filesystem storage; a remote backend would need a copy step after the recording.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class VoicemailStorage(FileSystemStorage):
    """``settings.VOICEMAIL_DIR``, read at each use (tests and deployments may change it)."""

    @property
    def base_location(self) -> str:
        return str(settings.VOICEMAIL_DIR)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise NotImplementedError("voicemail audio has no public URL (owner-checked views)")


_STORAGE = VoicemailStorage()


def voicemail_storage() -> VoicemailStorage:
    return _STORAGE
