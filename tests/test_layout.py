"""The package layout's rules, read from the source (ast), not from a running interpreter:
imports point one way (scripts -> jobs -> training -> models -> foundations), no package cycle,
csft reaches baselines only through the registry's strings, csft.report reads results, never
models."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*(ROOT / "csft").rglob("*.py"), *(ROOT / "baselines").rglob("*.py")]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module_level_only: bool = False) -> set[str]:
    """Every csft / baselines module `path` imports (`from a import b` counts a.b when a.b is a
    module, else a)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    if module_level_only:  # also what sits under a module-level `if` (not TYPE_CHECKING)
        nodes = [n for n in ast.walk(tree) if n in set(_module_level(tree))]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return {name for name in found if name.split(".")[0] in ("csft", "baselines")}


def _module_level(tree: ast.Module):
    """Statements run at import: the body and the bodies of top-level if/try blocks, minus
    `if TYPE_CHECKING:`."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        if isinstance(node, ast.If | ast.Try):
            stack += node.body + node.orelse + getattr(node, "finalbody", [])
            stack += [s for h in getattr(node, "handlers", []) for s in h.body]


MODULES = {module_name(p) for p in SOURCES}


def package(module: str) -> str:
    """csft.models.csft -> csft.models; csft.metrics -> csft.metrics; baselines.x -> baselines."""
    parts = module.split(".")
    if parts[0] == "baselines":
        return "baselines"
    return ".".join(parts[:2])


def graph(module_level_only: bool = False) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in SOURCES:
        name = module_name(path)
        edges.setdefault(package(name), set()).update(
            package(m) for m in imports(path, module_level_only) if package(m) != package(name)
        )
    return edges


def test_no_package_cycle():
    edges = graph()

    def visit(node, trail):
        if node in trail:
            cycle = trail[trail.index(node) :] + [node]
            pytest.fail(f"package cycle: {' -> '.join(cycle)}")
        for nxt in sorted(edges.get(node, ())):
            visit(nxt, trail + [node])

    for start in sorted(edges):
        visit(start, [])


def test_csft_never_imports_baselines_and_baselines_take_shared_foundations_only():
    for path in SOURCES:
        name = module_name(path)
        found = imports(path)
        if name.startswith("csft"):
            assert not any(m.startswith("baselines") for m in found), (name, found)
        else:
            csft = {m for m in found if m.startswith("csft")}
            assert csft <= {"csft.models.layers", "csft.models.settings"}, (name, csft)


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for nxt in edges.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_imports_point_one_way():
    """Each layer reaches only the layers below it, at import time."""
    edges = graph(module_level_only=True)
    below = {
        "csft.report": {"csft.models", "csft.training", "csft.jobs", "baselines"},
        "csft.models": {"csft.training", "csft.jobs", "csft.report", "csft.config"},
        "csft.training": {"csft.jobs", "csft.report", "csft.config"},
        "csft.classifiers": {"csft.jobs", "csft.report", "csft.config"},
        "csft.data": {"csft.models", "csft.training", "csft.jobs", "csft.report"},
        "csft.diagnostics": {"csft.models", "csft.training", "csft.jobs", "csft.report"},
    }
    for layer, forbidden in below.items():
        reached = _reachable(layer, edges) & forbidden
        assert not reached, f"{layer} imports {sorted(reached)} at import time"


def test_the_rule_sees_a_violation():
    """The checker itself: a module importing upwards is found."""
    assert "csft.jobs" in _reachable("csft.report", {"csft.report": {"csft.jobs"}})
    assert package("csft.models.csft") == "csft.models" and package("baselines.x") == "baselines"
    assert "csft.models.csft" in imports(ROOT / "csft" / "training" / "pretrain.py")


NOT_SHIPPED = ("shared/" + "paper.md", "shared/" + "design.md")  # split: this file is tracked


def test_no_file_points_outside_the_repo():
    # A clone has no ../shared: the paper notes and design notes are not shipped, so nothing may
    # cite them (the data mirror's default location is an environment setting, not a citation).
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    citing = [
        name
        for name in tracked
        if (ROOT / name).is_file()
        and any(s in (ROOT / name).read_text(errors="ignore") for s in NOT_SHIPPED)
    ]  # fmt: skip
    assert citing == []


SCRIPTS = ROOT / "workflow" / "scripts"
SCRIPT_LINES = 60
NOT_YET_THIN: set[str] = set()  # none: every script is thin


def test_workflow_scripts_stay_thin():
    """A script reads Snakemake's objects and calls a job or report function: the logic lives
    in csft, where it is tested and reused."""
    long = {
        path.name: n
        for path in sorted(SCRIPTS.glob("*.py"))
        if (n := len(path.read_text().splitlines())) >= SCRIPT_LINES
        and path.name not in NOT_YET_THIN
    }
    assert not long, f"scripts of {SCRIPT_LINES}+ lines (move their logic to csft): {long}"
