"""`preview --fixture`: the transactions of source documents a materialization or a
derivation reads, in either form flowctl has read, told apart by their first characters.

- Current flowctl: newline-delimited, one JSON value per line: a document
  `["collection/name", {...}]` or a commit marker `{"commit": true}` that ends a transaction.
  Consecutive markers are empty transactions (a file holding only `{"commit": true}` is one
  empty transaction); documents after the last marker form a final transaction.
- Legacy flowctl: one JSON (or YAML) array of transactions, each an array of
  `["collection/name", {...}]` pairs.

Each document is checked for Flow's nesting depth (`depth`) and, once `check_keys` has
been called, for a key value Flow can key on (`keys`) at every key of a reader of its
collection. A FIFO or `-` (stdin) streams: transactions are yielded as their commit markers arrive, for
one unbounded session. Any other file is read and checked whole before a connector starts.
An empty fixture is one empty transaction, as in flowctl.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson
import yaml

from flow_sdk.runtime.depth import check_depth
from flow_sdk.runtime.errors import RuntimeFailure
from flow_sdk.runtime.keys import KeyExtractor, KeyValueError

FIXTURE_FORMS = (
    'JSON lines of ["<collection>", {document}] with {"commit": true} ending each '
    "transaction, or a JSON array of transactions; - reads stdin"
)
"""The fixture forms, for messages that ask for one."""
Document = tuple[str, dict[str, Any]]
Transaction = list[Document]


@dataclass
class Readers:
    """Which collections the task reads, to name in errors: "binding of materialization
    'acmeCo/sink'" or "transform of derivation 'acmeCo/balances'"."""

    collections: set[str]
    reader: str
    keys: dict[str, list[KeyExtractor]] = field(default_factory=dict)
    """The keys each collection's documents are read by (set by `Fixture.check_keys`)."""


class Fixture:
    """An opened `--fixture`: `transactions()` yields each transaction once."""

    def __init__(self, path: str, readers: Readers) -> None:
        self.path = path
        self.readers = readers
        self.streaming = path == "-" or _is_fifo(path)
        self._eager: list[Transaction] | None = None
        if not self.streaming:
            self._eager = list(self._parse(self._open()))
            if not self._eager:
                self._eager = [[]]

    def transactions(self) -> Iterator[Transaction]:
        if self._eager is not None:
            yield from self._eager
            return
        yielded = 0
        for txn in self._parse(self._open()):
            yielded += 1
            yield txn
        if not yielded:
            yield []

    def check_keys(self, keys: dict[str, list[KeyExtractor]]) -> None:
        """Check every document's key values against `keys` (by collection): those read
        already now, those of a streaming fixture as they arrive."""
        self.readers.keys = keys
        for t, txn in enumerate(self._eager or []):
            for d, (collection, doc) in enumerate(txn):
                self._check_keys(collection, doc, f"transaction {t}, document {d}")

    def __len__(self) -> int:
        """How many transactions (a streaming fixture has no length until it ends)."""
        if self._eager is None:
            raise TypeError("a streaming fixture has no length")
        return len(self._eager)

    # ---- reading ----

    def _open(self) -> BinaryIO:
        if self.path == "-":
            return sys.stdin.buffer
        try:
            return open(self.path, "rb")  # noqa: SIM115  # closed by _parse
        except OSError as exc:
            raise RuntimeFailure(
                f"cannot read the fixture {self.path}: {exc.strerror or exc}"
            ) from None

    def _parse(self, stream: BinaryIO) -> Iterator[Transaction]:
        try:
            if self.path.endswith((".yaml", ".yml")):
                yield from self._legacy(stream.read())
                return
            head = _peek(stream)
            start = head.lstrip()
            if start.startswith(b"[") and start[1:].lstrip()[:1] in (b"[", b"]"):
                yield from self._legacy(head + stream.read())
            else:
                yield from self._lines(_lines(head, stream))
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    def _lines(self, lines: Iterable[bytes]) -> Iterator[Transaction]:
        current: Transaction = []
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise self._error(f"line {number} is not JSON ({exc})") from None
            if isinstance(value, dict) and value.get("commit") is True:
                yield current
                current = []
                continue
            current.append(self._document(value, f"line {number}"))
        if current:
            yield current

    def _legacy(self, text: bytes) -> Iterator[Transaction]:
        try:
            if self.path.endswith((".yaml", ".yml")):
                data = yaml.safe_load(text)
            else:
                data = orjson.loads(text)
        except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
            raise self._error(f"is not a valid array of transactions ({exc})") from None
        if not isinstance(data, list):
            raise self._error("must be a JSON array of transactions or JSON lines")
        for t, txn in enumerate(data):
            if not isinstance(txn, list):
                raise self._error(
                    f"transaction {t} must be an array of [collection, document] pairs"
                )
            yield [self._document(v, f"transaction {t}, document {d}") for d, v in enumerate(txn)]

    def _document(self, value: Any, where: str) -> Document:
        if not (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], dict)
        ):
            raise self._error(
                f'{where} must be ["<collection>", {{document}}] or {{"commit": true}}, '
                f"not {orjson.dumps(value).decode()[:120]}"
            )
        if value[0] not in self.readers.collections:
            reads = ", ".join(sorted(self.readers.collections)) or "nothing"
            raise self._error(
                f"{where} names collection {value[0]!r}, which no {self.readers.reader} "
                f"reads (it reads: {reads})"
            )
        name = "stdin" if self.path == "-" else self.path
        check_depth(value[1], f"{value[0]} (--fixture {name}, {where})")
        self._check_keys(value[0], value[1], where)
        return value[0], value[1]

    def _check_keys(self, collection: str, doc: dict[str, Any], where: str) -> None:
        for extractor in self.readers.keys.get(collection, ()):
            try:
                extractor.values(doc)
            except KeyValueError as exc:
                raise self._error(f"{where}: {exc}") from None

    def _error(self, detail: str) -> RuntimeFailure:
        name = "stdin" if self.path == "-" else self.path
        return RuntimeFailure(f"--fixture {name}: {detail}")


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def _peek(stream: BinaryIO) -> bytes:
    """The input up to and including its first two non-blank characters (or less at EOF),
    enough to tell the forms apart without waiting on a stream for more."""
    head = b""
    while len(head.strip()) < 2:
        chunk = stream.read1(1) if hasattr(stream, "read1") else stream.read(1)
        if not chunk:
            break
        head += chunk
    return head


def _lines(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    """Lines of `head` followed by the rest of `stream`, each yielded as soon as it ends."""
    pending = head
    while True:
        *complete, pending = pending.split(b"\n")
        yield from complete
        chunk = stream.readline()
        if not chunk:
            break
        pending += chunk
    if pending:
        yield pending
