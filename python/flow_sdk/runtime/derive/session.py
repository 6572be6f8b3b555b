"""One derivation session: Open, then per transaction the source documents `read` by the
transforms that read them, `flush` (each `published` document checked: an object, within
Flow's depth and size limits, valid against the derived schema, with a key), and
`startCommit`; at the end, EOF and a clean exit."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson

from flow_sdk.protocol import derive
from flow_sdk.protocol.flow import CollectionSpec, ConnectorState
from flow_sdk.runtime.depth import nesting, too_deep
from flow_sdk.runtime.derive.catalog import shuffle_key
from flow_sdk.runtime.document_meta import UUID_PLACEHOLDER
from flow_sdk.runtime.errors import ProtocolViolation
from flow_sdk.runtime.keys import Key, KeyExtractor, KeyValueError, pointer
from flow_sdk.runtime.launcher import read_one, request_line
from flow_sdk.runtime.process import EOF, ConnectorProcess
from flow_sdk.runtime.schema import MAX_DOCUMENT_BYTES, SchemaValidators, size_problem
from flow_sdk.runtime.strict import MessageTooDeep, parse_response

FULL_RANGE = {"keyEnd": 4294967295, "rClockEnd": 4294967295}


class DeriveSession:
    """Drives one derivation connector process through the derive transaction protocol."""

    def __init__(
        self,
        proc: ConnectorProcess,
        transforms: list[Any],
        sources: dict[str, CollectionSpec],
        derived: CollectionSpec,
        validators: SchemaValidators,
        keys: KeyExtractor,
    ) -> None:
        self.proc = proc
        self.transforms = transforms
        self.sources = sources
        self.derived = derived
        self.validators = validators
        self.keys = keys
        self._clock = 0

    def open(self, spec: CollectionSpec, state: Any) -> None:
        self.proc.send(
            request_line(
                "open",
                {
                    "collection": spec.to_wire(),
                    "version": "preview",
                    "range": FULL_RANGE,
                    "state": state,
                },
            )
        )
        read_one(self.proc, derive.Response, "opened", "the open request")

    def transaction(
        self, pairs: Iterable[tuple[str, Any]]
    ) -> tuple[list[Any], list[ConnectorState]]:
        """Read `(collection, document)` pairs through the transforms and commit; the
        published documents (reduced by key, in key order) and the state updates."""
        proc = self.proc
        for source, doc in pairs:
            for index, t in enumerate(self.transforms):
                if t.source != source:
                    continue
                self._clock += 1
                key = [pointer(p).get(doc) for p in shuffle_key(t, self.sources[source])]
                read = {
                    "transform": index,
                    "uuid": {"node": "1", "clock": str(self._clock)},
                    "shuffle": {"key": key},
                    "doc": doc,
                }
                proc.send(request_line("read", read))
        proc.send(request_line("flush", {}))
        published = _until(proc, "flushed", self.validators, self.derived, self.keys)
        proc.send(request_line("startCommit", {"runtimeCheckpoint": {"committed": time.time()}}))
        committed = read_one(
            proc, derive.Response, "startedCommit", "the startCommit request"
        ).startedCommit
        updates = [committed.state] if committed.state is not None else []
        return _reduced(published), updates

    def close(self) -> None:
        """Close stdin; the derivation must exit cleanly without writing more."""
        self.proc.close_stdin()
        if self.proc.next_line(30) is not EOF:
            raise ProtocolViolation(
                "derive-eof", "the derivation wrote more after its last transaction"
            )
        if self.proc.wait(30) != 0:
            raise self.proc.failure("the derivation session")


def _until(
    proc: ConnectorProcess,
    answer: str,
    validators: SchemaValidators,
    derived: CollectionSpec,
    keys: KeyExtractor,
) -> list[tuple[Key, Any]]:
    """Published documents (checked against the derived schema) with their keys, up to the
    `answer` response."""
    published = []
    while True:
        line = proc.next_line()
        if line is EOF:
            if proc.wait() != 0:
                raise proc.failure("the derivation session")
            raise ProtocolViolation("derive-eof", f"the derivation exited before `{answer}`")
        assert isinstance(line, bytes)
        try:
            response = parse_response(derive.Response, line)
        except MessageTooDeep as exc:
            published_doc = exc.data.get("published") if isinstance(exc.data, dict) else None
            levels = nesting(published_doc.get("doc")) if isinstance(published_doc, dict) else None
            where = f"derived collection {derived.name}"
            raise ProtocolViolation("document-depth", too_deep(where, levels), line) from None
        if response.variant == answer:
            return published
        if response.variant != "published":
            raise ProtocolViolation(
                "response-variant",
                f"expected `published` or `{answer}`, got `{response.variant}`",
                line,
            )
        doc = response.published.doc
        if not isinstance(doc, dict):
            raise ProtocolViolation(
                "published-object", "published documents must be JSON objects", line
            )
        doc = {**doc, "_meta": {**(doc.get("_meta") or {}), "uuid": UUID_PLACEHOLDER}}
        if len(line) > MAX_DOCUMENT_BYTES and (too_big := size_problem(len(orjson.dumps(doc)))):
            raise ProtocolViolation("document-size", f"a published document: {too_big}", line)
        if (problem := validators.problem(derived, doc)) is not None:
            raise ProtocolViolation(
                "published-schema",
                f"a published document does not match the schema of {derived.name!r}: {problem}",
                line,
            )
        try:
            key = keys.key(doc)
        except KeyValueError as exc:
            raise ProtocolViolation("published-key", str(exc), line) from None
        published.append((key, doc))


def _reduced(published: list[tuple[Key, Any]]) -> list[Any]:
    """One document per key (the last), in key order, as Flow's combiner drains them."""
    by_key = dict(published)
    return [by_key[key] for key in sorted(by_key)]
