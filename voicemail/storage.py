"""Where message audio lives: a private folder, never under a public URL.

Files are served only through the owner-checked views (``voicemail.views``); the storage has
no ``base_url``. The engine writes a message straight into its file while recording
(``OrmStore.open_voicemail`` hands it ``storage.path(name)``), so this must be a local
filesystem storage; a remote backend would need a copy step after the recording.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage


def voicemail_storage() -> FileSystemStorage:
    return FileSystemStorage(location=str(settings.VOICEMAIL_DIR), base_url=None)
