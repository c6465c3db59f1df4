from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def published(monkeypatch) -> list[tuple[int, dict[str, Any]]]:
    """Events the chat actions publish (after commit), as (extension id, event)."""
    sent: list[tuple[int, dict[str, Any]]] = []

    def record(extension_ids: list[int], event: dict[str, Any]) -> None:
        sent.extend((extension_id, event) for extension_id in extension_ids)

    monkeypatch.setattr("pbxweb.chat.actions._publish", record)
    return sent
