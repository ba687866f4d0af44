"""Each layer rests on the ones below: a test that fails when an import runs back up.

- nothing under ``gridmap/`` imports ``api/`` (HTTP sits on the engine, not in it);
- nothing under ``gridmap/`` imports ``layers/``: the layer catalogue is handed in by whoever
  starts gridmap (``api/app.py`` puts it on ``app.state.catalogue``). The command line,
  ``gridmap/cli/``, is such an entry point and registers it for its map commands;
- ``gridmap/db/`` imports no domain: only itself, ``errors`` and ``settings`` (the models of
  every domain are gathered above them, in ``gridmap/models.py``);
- ``gridmap/areas/``, the foundation, reads no domain above it (incidents, registry, users):
  an area with what lies in it is ``gridmap/registry/summary.py``.

Imports are read from the source (``ast``), at the top of a module or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = sorted((ROOT / "gridmap").rglob("*.py"))


def imported(source: str, module: str) -> set[str]:
    """The modules ``source`` (the module named ``module``) imports, relative ones resolved."""
    found: set[str] = set()
    package = module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            found.update(f"{name}.{alias.name}" for alias in node.names)  # a module or a name
    return found


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _refused(rule: str, rel: str, name: str) -> bool:
    """True when the file ``rel`` may not import ``name`` under ``rule``."""
    if rule == "api":
        return _under(name, ("api",))
    if rule == "layers":
        return _under(name, ("layers",)) and not rel.startswith("gridmap/cli/")
    if rule == "db":
        return (rel.startswith("gridmap/db/") and _under(name, ("gridmap",))
                and not _under(name, ("gridmap.db", "gridmap.errors", "gridmap.settings")))  # fmt: skip
    if rule == "areas":
        return rel.startswith("gridmap/areas/") and _under(
            name, ("gridmap.incidents", "gridmap.registry", "gridmap.auth")
        )
    raise AssertionError(rule)


RULES = {
    "api": "the engine imports api/",
    "layers": "the engine imports layers/ (take the catalogue as an argument)",
    "db": "the database package imports a domain",
    "areas": "areas/ imports a domain above it",
}
# arrows known to run back up, owned by another piece of work: remove when they are gone
KNOWN: set[tuple[str, str, str]] = set()


@pytest.mark.parametrize("rule", list(RULES), ids=list(RULES.values()))
def test_no_import_runs_back_up(rule):
    found = []
    for path in ENGINE:
        rel = path.relative_to(ROOT).as_posix()
        names = imported(path.read_text(encoding="utf-8"), _module(path))
        for name in sorted(names):
            known = any(r == rule and f == rel and _under(name, (n,)) for r, f, n in KNOWN)
            if _refused(rule, rel, name) and not known:
                found.append(f"{rel}: {name}")
    assert found == [], f"{RULES[rule]}:\n" + "\n".join(found)


def test_the_known_exceptions_still_exist():
    """An exception that is gone is struck from KNOWN, so it cannot come back unnoticed."""
    for rule, rel, name in KNOWN:
        source = (ROOT / rel).read_text(encoding="utf-8")
        names = imported(source, _module(ROOT / rel))
        assert any(_under(n, (name,)) for n in names), (rule, rel, name)


def test_the_scan_finds_what_it_looks_for():
    def refused(rule, rel, source):
        module = rel.removesuffix(".py").replace("/", ".")
        return {n for n in imported(source, module) if _refused(rule, rel, n)}

    assert refused("api", "gridmap/maps/x.py", "def f():\n    from api.deps import get_session")
    assert refused("layers", "gridmap/maps/x.py", "import layers")
    assert not refused("layers", "gridmap/cli/maps.py", "from layers import LAYERS")
    assert refused("db", "gridmap/db/x.py", "from gridmap.registry.models import Person")
    assert refused("db", "gridmap/db/x.py", "from ..areas import models")  # relative
    assert refused("db", "gridmap/db/x.py", "import gridmap.models")
    assert not refused("db", "gridmap/db/x.py", "from gridmap.errors import ClusterError")
    assert not refused("db", "gridmap/db/x.py", "from gridmap import errors")
    assert refused("areas", "gridmap/areas/x.py", "from gridmap.incidents.models import OPEN")
    assert not refused("areas", "gridmap/registry/x.py", "from gridmap.incidents import models")
