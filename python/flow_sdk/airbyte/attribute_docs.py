"""airbyte-cdk's start-up, made cheaper: attribute docstrings read from one parse per file.

airbyte-cdk ≥ 5 builds its message serializers (serpyco-rs) when `airbyte_cdk.models` is
imported, and serpyco-rs reads every described class's attribute docstrings with
`attributes_doc.get_attributes_doc`. That calls `inspect.getsource` for each class and each of
its bases, and on Python < 3.13 `inspect` finds a class by parsing its whole module again
every time: ~0.8 s of the ~2.3 s an airbyte-cdk 7 import takes here, paid by every launch of
a wrapped Airbyte connector (Spec, Validate, Apply and each session are launches).

`install()` replaces `attributes_doc.get_attributes_doc` with `attribute_docs`, which gives
the same answers (tested against the original, class by class) from one cached syntax tree per
source file. It must run before serpyco-rs is imported, which copies the function: importing
`flow_sdk.airbyte` does it, so a connector's entry point imports flow-sdk's shim first. Where
attributes_doc is absent (airbyte-cdk < 5) or serpyco-rs is already loaded, it changes nothing.
`FLOW_SDK_STOCK_ATTRIBUTE_DOCS=1` keeps the original.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import sys
from functools import cache
from itertools import pairwise
from typing import Any

_Scope = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@cache
def _module_tree(path: str, module_name: str) -> ast.Module | None:
    """The syntax tree of one source file (read as `inspect` reads it), or None without
    source. A file that does not parse raises, as `inspect.getsource` does."""
    module = sys.modules.get(module_name)
    lines = linecache.getlines(path, module.__dict__ if module is not None else None)
    return ast.parse("".join(lines)) if lines else None


def _class_node(tree: ast.AST, qualname: str) -> ast.ClassDef | None:
    """The first class definition named `qualname` in source order, as `inspect` finds it:
    a function's classes are qualified `function.<locals>.Class`."""
    scopes: list[tuple[ast.AST, tuple[str, ...]]] = [(tree, ())]
    while scopes:
        node, prefix = scopes.pop()
        inner: list[tuple[ast.AST, tuple[str, ...]]] = []
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                path = (*prefix, child.name)
                if ".".join(path) == qualname:
                    return child
                inner.append((child, path))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner.append((child, (*prefix, child.name, "<locals>")))
            else:
                inner.append((child, prefix))
        scopes.extend(reversed(inner))  # depth first, in source order
    return None


def _source_node(cls: type) -> ast.ClassDef | None:
    """`cls`'s definition, or None where `inspect.getsource` would fail (builtins, classes
    without a source file, classes made by `type()`)."""
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        return None
    if not path:
        return None
    tree = _module_tree(os.path.abspath(path), cls.__module__)
    return None if tree is None else _class_node(tree, cls.__qualname__)


def _documented(cls_node: ast.ClassDef, into: dict[str, str]) -> None:
    """Each `name = ...` / `name: T` directly followed by a string literal: name → that
    string. An f-string there is an error, as in attributes_doc."""
    for statement, following in pairwise(cls_node.body):
        if not isinstance(statement, (ast.Assign, ast.AnnAssign)):
            continue
        if not isinstance(following, ast.Expr):
            continue
        value = following.value
        if isinstance(value, ast.JoinedStr):
            from attributes_doc import FStringFound

            raise FStringFound
        if not isinstance(value, ast.Constant) or not isinstance(value.value, str):
            continue
        targets = [statement.target] if isinstance(statement, ast.AnnAssign) else statement.targets
        for target in targets:
            if isinstance(target, ast.Name):
                into[target.id] = value.value


def attribute_docs(cls: type) -> dict[str, str]:
    """`attributes_doc.get_attributes_doc(cls)`: attribute name → docstring over the MRO,
    a subclass's docstring winning."""
    result: dict[str, str] = {}
    for parent in reversed(cls.mro()):
        node = _source_node(parent)
        if node is not None:
            _documented(node, result)
    return result


def install() -> bool:
    """Make `attribute_docs` the one serpyco-rs will use; whether it was installed."""
    if os.environ.get("FLOW_SDK_STOCK_ATTRIBUTE_DOCS") == "1" or "serpyco_rs" in sys.modules:
        return False
    try:
        import attributes_doc
    except ImportError:
        return False
    replaced: Any = attribute_docs  # the original stays at attributes_doc._base
    attributes_doc.get_attributes_doc = replaced
    return True
