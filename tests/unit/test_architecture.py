"""The layering holds: http -> domain -> dal, no import cycle, and only the dal speaks storage.

Imports are read with ``ast`` (module-level and those inside functions alike), so a lazy import
cannot hide a cycle or a forbidden dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support import ROOT

LAYER = ROOT / "layers" / "revisit"
PACKAGE = LAYER / "revisit"
STORAGE_WORDS = re.compile(r'Decimal|failed_at\(|"pk"|"sk"|NewImage|expiresAtEpoch')


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(LAYER).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` is ``a.b`` when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
    return found


GRAPH = {name: {m for m in _imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(GRAPH):
        if start not in state and (found := visit(start)):
            return found
    return None


def _importers(prefix: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    out = {}
    for name, path in MODULES.items():
        if name == prefix or name.startswith(prefix + "."):
            bad = sorted(m for m in _imports(path) if m.split(".")[0] in forbidden or m.startswith(forbidden))
            if bad:
                out[name] = bad
    return out


def test_the_layer_has_no_import_cycle():
    assert _cycle() is None, " -> ".join(_cycle() or [])


def test_the_domain_speaks_neither_storage_nor_http():
    forbidden = ("boto3", "botocore", "pydantic", "aws_lambda_powertools", "revisit.http")
    assert _importers("revisit.domain", forbidden) == {}


def test_the_dal_knows_neither_the_domain_nor_http():
    assert _importers("revisit.dal", ("revisit.domain", "revisit.http")) == {}


def test_no_key_ttl_or_stream_attribute_is_named_in_the_domain():
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in (PACKAGE / "domain").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if STORAGE_WORDS.search(line)
    ]
    assert hits == []


def test_only_config_and_observability_read_the_environment():
    readers = sorted(
        name
        for name, path in MODULES.items()
        if re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text())
        and name not in ("revisit.config", "revisit.observability")
    )
    assert readers == []
