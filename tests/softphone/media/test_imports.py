"""softphone/media is a library: it imports neither Django nor the rest of the project."""

from __future__ import annotations

import ast
from pathlib import Path

import softphone.media

PACKAGE = Path(softphone.media.__file__).parent
FORBIDDEN = ("django", "channels", "pbxweb", "presence", "voicemail", "softphone.sip",
             "softphone.pbx", "softphone.webrtc", "softphone.store", "audioop", "numpy")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_media_modules_import_no_django_no_project_code_no_numpy() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in PACKAGE.glob("*.py")
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert offenders == set()


def test_no_module_is_over_600_lines() -> None:
    assert {p.name for p in PACKAGE.glob("*.py") if len(p.read_text().splitlines()) > 600} \
        == set()
