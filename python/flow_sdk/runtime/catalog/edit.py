"""Editing the user's catalog files in place: YAML round-tripped with ruamel.yaml, so
comments, key order, quoting and indentation survive, and only what changed is touched.

ruamel.yaml re-emits flow mappings without the inner spaces many catalogs use
(`{ stream: users }`); every line whose content did not change is therefore written back
exactly as it was read (lines are aligned on their text with those spaces, and the spaces before a comment,
ignored). A file
whose data did not change is not written at all.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from flow_sdk.runtime.errors import CatalogError

_BRACKET_SPACE = re.compile(r"(?<=[{\[])\s+|\s+(?=[}\]])")
_COMMENT_SPACE = re.compile(r"\s+#")


class EditedFile:
    """One catalog (or schema) file: its data, editable in place, and how to write it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = path.read_text() if path.exists() else ""
        self.is_json = path.suffix == ".json"
        self._yaml = YAML()
        self._yaml.preserve_quotes = True
        self._yaml.width = 4096  # never fold a long line the user wrote on one
        try:
            if self.is_json:
                self.data: Any = json.loads(self.text) if self.text.strip() else None
            else:
                _, indent, offset = load_yaml_guess_indent(self.text or "{}\n")
                self._yaml.indent(mapping=2, sequence=indent or 2, offset=offset or 0)
                self.data = self._yaml.load(self.text) if self.text.strip() else None
        except (ValueError, YAMLError) as exc:
            kind = "JSON" if self.is_json else "YAML"
            raise CatalogError(f"{path} is not valid {kind}: {exc}") from None
        if self.data is None:
            self.data = {}
        self._original = _plain(self.data)

    @property
    def changed(self) -> bool:
        return _plain(self.data) != self._original

    def save(self) -> bool:
        """Write the file back if its data changed; True if it was written."""
        if not self.changed:
            return False
        if self.is_json:
            self.path.write_text(json.dumps(self.data, indent=2) + "\n")
            return True
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        self.path.write_text(keep_unchanged_lines(self.text, out.getvalue()))
        return True

    def replace(self, data: Any) -> None:
        """The whole document becomes `data` (a schema file discovery owns)."""
        self.data = data


def keep_unchanged_lines(before: str, after: str) -> str:
    """`after`, with each line whose text equals a line of `before` (spaces inside brackets
    aside) taken from `before` as it was."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(
        None, [_norm(line) for line in old], [_norm(line) for line in new], autojunk=False
    )
    out: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        out.extend(old[i1:i2] if tag == "equal" else new[j1:j2])
    text = "".join(out)
    return text if text.endswith("\n") or not text else text + "\n"


def _norm(line: str) -> str:
    return _COMMENT_SPACE.sub(" #", _BRACKET_SPACE.sub("", line.rstrip("\r\n")))


def _plain(value: Any) -> Any:
    """ruamel's commented containers as plain ones, for comparing data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def block_style(container: Any) -> None:
    """Lay out a (so far empty, `[]` or `{}`) ruamel container in block style, so that what
    is added to it reads like the rest of the file."""
    fa = getattr(container, "fa", None)
    if fa is not None:
        fa.set_block_style()
