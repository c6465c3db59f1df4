"""Every voicemail test keeps its message audio in its own folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _voicemail_dir(settings: Any, tmp_path: Path) -> None:
    settings.VOICEMAIL_DIR = tmp_path / "voicemail"
