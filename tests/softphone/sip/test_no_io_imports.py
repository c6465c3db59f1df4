"""softphone/sip is sans-IO (ARCHITECTURE.md): only ``transport*.py`` may do I/O.

The AST is walked, so an import inside a function or under ``if TYPE_CHECKING`` counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import softphone.sip

SIP = Path(softphone.sip.__file__).resolve().parent
FORBIDDEN = ("asyncio", "socket", "django", "selectors", "uvloop")
MODULES = sorted(p for p in SIP.glob("*.py") if not p.name.startswith("transport"))


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "__import__" and node.args
              and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value))
    return names


def test_the_wire_layer_modules_are_checked() -> None:
    names = {p.name for p in MODULES}
    assert {"message.py", "parser.py", "framing.py", "uri.py", "sdp.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_module_imports_no_io(path: Path) -> None:
    bad = {name for name in imported_modules(path)
           if name.split(".")[0] in FORBIDDEN}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_checker_sees_nested_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    import socket\n    from django.conf import settings\n")
    assert {"socket", "django.conf"} <= imported_modules(sample)
