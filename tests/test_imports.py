"""The import structure of the house, read from the source (ast), not from a running import.

Why: the layering (contracts ← media/export/jobs/watch ← analyzers ← run/pipeline ←
daemon/commands/cli) is what lets a worker on another machine import only what it
needs and a newcomer find each concern in one room. A lazy import inside a function
breaks it as surely as one at the top, so every import counts here, except those under
``if TYPE_CHECKING:`` (never executed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "kinod"

#: The floors of the house, top first. A module may import from its own package and from any
#: floor below its own, never from a floor above nor from a neighbour on the same floor.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("kinod.cli",),
    ("kinod.service",),
    ("kinod.run",),
    ("kinod.library",),
    ("kinod.jobs", "kinod.watch", "kinod.sync"),
    ("kinod.config",),
    ("kinod.export", "kinod.analyzers"),
    ("kinod.media",),
    ("kinod.contracts", "kinod"),
)
#: Limits that keep a module readable in one sitting.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
#: A function may run longer when a comment on its ``def`` line says why.
LONG_OK = "# long:"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """kinod modules imported by one file (resolved: ``from kinod.a import b`` may mean kinod.a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for n in child.orelse:
                    visit_one(n)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("kinod"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("kinod"):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names if _exists(f"{base}.{a.name}"))
        elif top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return  # runs later, when called: not part of importing the module
        else:
            visit(node)

    visit(tree)
    found.discard(me)
    return found


def _exists(module: str) -> bool:
    p = ROOT.parent.joinpath(*module.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _package(module: str) -> str:
    """The room a module belongs to: ``kinod.run.planner`` -> ``kinod.run``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _floor(module: str) -> int:
    pkg = _package(module)
    for i, floor in enumerate(LAYERS):
        if pkg in floor:
            return i
    raise AssertionError(f"{module} is on no floor of LAYERS: add its package there")


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(from room, to room) -> the module imports behind that arrow."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in _sources():
        me = _module_name(path)
        for dep in sorted(_imports(path, top_level_only=False)):
            a, b = _package(me), _package(dep)
            if a != b and b != "kinod":
                edges.setdefault((a, b), []).append(f"{me} -> {dep}")
    return edges


def drawing() -> str:
    """The house in words: each floor, top first, with the rooms its rooms import."""
    edges = import_edges()
    lines = []
    for i, floor in enumerate(LAYERS):
        for room in floor:
            targets = sorted({b for (a, b) in edges if a == room}, key=_floor)
            marks = [f"{t}{'' if _floor(t) > i else ' (UP!)'}" for t in targets]
            lines.append(f"floor {len(LAYERS) - i:2d}  {room:<16} -> {', '.join(marks) or '-'}")
    return "\n".join(lines)


def test_imports_point_down_the_floors() -> None:
    """Arrows point down: nothing imports a room above it or beside it on the same floor."""
    print("\n" + drawing())
    bad = [via for (a, b), vias in import_edges().items() if _floor(b) <= _floor(a) for via in vias]
    assert bad == []


def test_every_module_is_on_a_floor() -> None:
    for path in _sources():
        _floor(_module_name(path))


def test_modules_and_functions_stay_small() -> None:
    """Under about 400 lines a module and 80 a function, unless a ``# long:`` comment says why."""
    big = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        if len(lines) > MAX_MODULE_LINES:
            big.append(f"{_module_name(path)}: {len(lines)} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES and LONG_OK not in lines[node.lineno - 1]:
                    big.append(f"{_module_name(path)}.{node.name}: {n} lines")
    assert big == []


def test_no_ticket_history_in_code_or_docs() -> None:
    """Comments and docs say why the code is as it is, not which ticket brought it."""
    import re

    ticket = re.compile(r"\bissues? ?#?\d+\b|\(i\d\d\)", re.IGNORECASE)
    repo = ROOT.parent
    files = [*_sources(), repo / "README.md", repo / "config.toml", repo / "pyproject.toml", repo / "Makefile"]
    bad = [
        f"{f.relative_to(repo)}:{n}"
        for f in files
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        if ticket.search(line)
    ]
    assert bad == []


def test_contracts_is_a_leaf() -> None:
    """The shared value types (and the catalog that reads them off the installed analyzers) import
    nothing else of kinod."""
    for path in sorted((ROOT / "contracts").glob("*.py")):
        assert not [m for m in _imports(path, top_level_only=False) if not _under(m, ("kinod.contracts",))], path


def test_no_import_cycles_at_module_level() -> None:
    """Module-level imports form no cycle (a cycle makes import order matter, and breaks)."""
    graph = {_module_name(p): _imports(p, top_level_only=True) for p in _sources()}

    def parents(m: str) -> set[str]:
        # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = m.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts))} & graph.keys()

    edges = {
        m: {d for dep in deps for d in ({dep} | parents(dep)) if d in graph and d != m} for m, deps in graph.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                # a package importing its own submodule (kinod.x -> kinod.x.y -> kinod.x) is normal
                cyc = [*stack[stack.index(d) :], d]
                if not all(c == cyc[0] or c.startswith(cyc[0] + ".") for c in cyc):
                    cycles.append(cyc)
            elif d not in state:
                dfs(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            dfs(m)
    assert cycles == []


@pytest.mark.parametrize(
    "name",
    [
        "Analyzer",
        "AnalyzerConfig",
        "AnalyzerError",
        "AudioChunk",
        "AudioNeeds",
        "ClipInfo",
        "FilterEvent",
        "FilterTap",
        "Frame",
        "FrameNeeds",
        "Marker",
        "MarkerCategorySpec",
        "ModelAnalyzer",
        "ModelInfo",
        "ModelMissingError",
        "Needs",
        "OutOfMemoryError",
        "ReadContext",
        "Resources",
        "Result",
        "RuntimeContext",
        "SearchEntry",
        "StreamAnalyzer",
        "StreamEnd",
        "UiSection",
        "finish_order",
    ],
)
def test_the_analyzer_contract_is_importable_from_base(name: str) -> None:
    import kinod.analyzers.base as base

    assert hasattr(base, name)


def test_stream_and_model_analyzers_are_separate_classes() -> None:
    from kinod.analyzers.base import Analyzer, ModelAnalyzer, Needs, StreamAnalyzer
    from kinod.analyzers.registry import analyzer_class, analyzer_names

    assert not issubclass(StreamAnalyzer, ModelAnalyzer) and not issubclass(ModelAnalyzer, StreamAnalyzer)
    assert not hasattr(ModelAnalyzer, "on_frame") and not hasattr(StreamAnalyzer, "run")
    with pytest.raises(TypeError):  # Analyzer is the type of either, not a class to subclass

        class Both(Analyzer):  # type: ignore[misc,valid-type]
            name = "both"

    class Reader(ModelAnalyzer):  # a model analyzer is one whatever its needs say
        name = "reader"
        version = "1"
        needs = Needs(results_of=("shots",))

    assert Reader().kind == "model" and Reader().needs.cache
    for name in analyzer_names():  # every analyzer we ship is one of the two
        assert issubclass(analyzer_class(name), (StreamAnalyzer, ModelAnalyzer)), name


def test_only_the_job_store_speaks_sql() -> None:
    """Named store methods, not SQL strings, everywhere else: the schema can change in one place."""
    import re

    sql = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER)\s", re.MULTILINE)
    store = {"store.py", "db.py", "queue_store.py", "queue_writes.py", "card_store.py", "clip_store.py", "schema.py"}
    bad = []
    for path in _sources():
        if path.parent.name == "jobs" and path.name in store:
            continue
        if path.parent.name == "index":
            continue  # the search index is a database of its own (search.sqlite): FTS5 queries are its job
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and sql.search(node.value):
                bad.append(f"{_module_name(path)}:{node.lineno}")
    assert bad == []


def test_the_card_lifecycle_sits_below_the_daemon_and_its_storage_pause() -> None:
    """The card service is used by the daemon, so it must not reach back up into it (nor its pause)."""
    path = ROOT / "run" / "cards.py"
    above = ("kinod.service.daemon", "kinod.service.pause")
    assert [m for m in sorted(_imports(path, top_level_only=False)) if _under(m, above)] == []


if __name__ == "__main__":
    print(drawing())
