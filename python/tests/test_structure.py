"""The package's structure rules (docs/design.md, issue #20): short functions, one-way imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import flow_sdk

PACKAGE = Path(flow_sdk.__file__).parent
MAX_FUNCTION_LINES = 60
SKIPPED = ("runtime/scaffold/templates.py",)
"""Not code to read: the scaffold's file templates."""

# docs/design.md: "Imports flow one way: `protocol` ← `io`/`logger` ← `capture`/`materialize`/
# `derive` ← `airbyte`/`singer`. The `runtime` depends on `protocol` only ... Nothing imports
# `cli` or `testing`." Other top-level modules are shared helpers, outside the layers.
LAYERS = {
    "protocol": 0,
    "io": 1,
    "logger": 1,
    "capture": 2,
    "materialize": 2,
    "derive": 2,
    "airbyte": 3,
    "singer": 3,
}
RUNTIME_MAY_IMPORT = {"protocol", "runtime"}
NOBODY_IMPORTS = {"cli", "testing"}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name not in SKIPPED:
            yield name, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + child.name, child
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def test_no_function_is_over_60_lines() -> None:
    long = {}
    for module, tree in _modules():
        for name, node in _functions(tree):
            lines = node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]
            if lines > MAX_FUNCTION_LINES:
                long[f"{module}:{name}"] = lines
    assert not long, (
        f"functions over {MAX_FUNCTION_LINES} lines (split them along their seams): "
        + ", ".join(f"{where} ({lines})" for where, lines in sorted(long.items()))
    )


def _imports(tree: ast.Module) -> Iterator[str]:
    """The `flow_sdk` modules a module imports, anywhere in it (lazy imports included)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "flow_sdk":
                yield from (f"flow_sdk.{alias.name}" for alias in node.names)
            else:
                yield node.module


def _top(module: str) -> str:
    """The top-level part of the package a module belongs to: `capture`, `io`, ..."""
    return module.removesuffix(".py").split("/")[0]


def test_imports_flow_one_way() -> None:
    upward = []
    for module, tree in _modules():
        here = _top(module)
        for imported in _imports(tree):
            parts = imported.split(".")
            if parts[0] != "flow_sdk" or len(parts) < 2 or parts[1] == here:
                continue
            there = parts[1]
            wrong = (
                there in NOBODY_IMPORTS
                or (here == "runtime" and there in LAYERS and there not in RUNTIME_MAY_IMPORT)
                or (here in LAYERS and there in LAYERS and LAYERS[there] > LAYERS[here])
                or (here in LAYERS and there == "runtime")
            )
            if wrong:
                upward.append(f"{module} imports {imported}")
    assert not upward, "imports against docs/design.md's direction: " + "; ".join(upward)
