"""The workspace edits of `flow-sdk new`: the root pyproject.toml (text insertions, so every
comment and line stays), the CI matrix and the catalog (ruamel.yaml round trip, via
`catalog.edit`), and a snapshot that puts them all back when a later step fails."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from flow_sdk.runtime.catalog.edit import EditedFile
from flow_sdk.runtime.scaffold.plan import CATALOG, WORKFLOW, Plan, ScaffoldError


class Snapshot:
    """The workspace files `flow-sdk new` changes, as they were, and the directory it
    creates: `restore()` undoes everything."""

    FILES = ("pyproject.toml", "uv.lock", str(WORKFLOW), CATALOG)

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.texts: dict[Path, str | None] = {}
        for name in self.FILES:
            path = plan.workspace / name
            self.texts[path] = path.read_text() if path.exists() else None

    def restore(self) -> None:
        for path, text in self.texts.items():
            if text is None:
                path.unlink(missing_ok=True)
            elif not path.exists() or path.read_text() != text:
                path.write_text(text)
        shutil.rmtree(self.plan.directory, ignore_errors=True)


# ---- pyproject.toml ----


def add_to_root_pyproject(plan: Plan) -> None:
    """The connector as a workspace dependency (path, editable, and its Poetry mirror), and
    its tests among pytest's testpaths, as source-bigdata's."""
    path = plan.workspace / "pyproject.toml"
    text = path.read_text()
    name = plan.name
    text = _append_to_list(text, "project", "dependencies", f'"{name}"')
    text = _append_to_table(
        text, "tool.uv.sources", f'{name} = {{ path = "{name}", editable = true }}'
    )
    if _has_table(text, "tool.poetry.dependencies"):
        text = _append_to_table(
            text, "tool.poetry.dependencies", f'{name} = {{ path = "{name}", develop = true }}'
        )
    if _has_table(text, "tool.pytest.ini_options"):
        text = _append_to_list(text, "tool.pytest.ini_options", "testpaths", f'"{name}/tests"')
    _check_toml(text, name)
    path.write_text(text)


def _table_span(lines: list[str], table: str) -> tuple[int, int]:
    header = f"[{table}]"
    start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
    if start is None:
        raise ScaffoldError(f"the workspace pyproject.toml has no [{table}] table")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return start, end


def _has_table(text: str, table: str) -> bool:
    return any(line.strip() == f"[{table}]" for line in text.splitlines())


def _append_to_table(text: str, table: str, line: str) -> str:
    lines = text.splitlines(keepends=True)
    _, end = _table_span(lines, table)
    lines.insert(end, line + "\n")
    return "".join(lines)


def _append_to_list(text: str, table: str, key: str, item: str) -> str:
    lines = text.splitlines(keepends=True)
    start, end = _table_span(lines, table)
    for i in range(start + 1, end):
        if not re.match(rf"\s*{re.escape(key)}\s*=\s*\[", lines[i]):
            continue
        if "]" in lines[i]:  # one line: key = ["a", "b"]
            head, _, tail = lines[i].rpartition("]")
            sep = "" if head.rstrip().endswith("[") else ", "
            lines[i] = f"{head.rstrip()}{sep}{item}]{tail}"
            return "".join(lines)
        for j in range(i + 1, end):
            if lines[j].strip().startswith("]"):
                lines.insert(j, f"    {item},\n")
                return "".join(lines)
    raise ScaffoldError(f"the workspace pyproject.toml has no {key} list in [{table}]")


def _check_toml(text: str, name: str) -> None:
    try:
        import tomllib
    except ImportError:  # Python 3.10: the insertions are checked by `uv lock`
        return
    data = tomllib.loads(text)
    if name not in data["project"]["dependencies"] or name not in data["tool"]["uv"]["sources"]:
        raise ScaffoldError(f"could not add {name} to the workspace pyproject.toml")


# ---- the CI matrix and the catalog ----


def add_to_ci_matrix(plan: Plan) -> None:
    """One `connectors` matrix entry, in the form test_workflows.py checks."""
    edited = EditedFile(plan.workspace / WORKFLOW)
    include = edited.data["jobs"]["connectors"]["strategy"]["matrix"]["include"]
    include.append(
        CommentedMap(
            [("connector", plan.name), ("python", True), ("connector_type", plan.protocol)]
        )
    )
    edited.save()


def add_to_catalog(plan: Plan) -> None:
    """The task, running `python -m <package>` with the config file, no bindings yet
    (discover fills a capture's)."""
    edited = EditedFile(plan.workspace / CATALOG)
    section = "captures" if plan.protocol == "capture" else "materializations"
    if edited.data.get(section) is None:
        edited.data[section] = CommentedMap()
    command = CommentedSeq(["python", "-m", plan.package])
    command.fa.set_flow_style()
    local = CommentedMap([("command", command), ("config", plan.config_reference)])
    bindings: Any = CommentedSeq()
    bindings.fa.set_flow_style()
    task = CommentedMap([("endpoint", CommentedMap([("local", local)])), ("bindings", bindings)])
    edited.data[section][plan.task] = task
    edited.data[section].yaml_set_comment_before_after_key(
        plan.task, before=f"{plan.name}, scaffolded by `flow-sdk new`", indent=2
    )
    edited.save()
