"""The request loop of a native derivation (`flow-protocol.md` §4): one hook per verb.

The loop owns the protocol's order, so a derivation cannot answer out of turn: after
`open`, each transaction is `read`* → `flush` → `startCommit`, documents may be published
only while reads or the flush are handled, and stdin may end only between transactions.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from typing import Any, final

import orjson
from pydantic import ValidationError

from flow_sdk.connector import BaseConnector, hook_response
from flow_sdk.io import FLUSH_BYTES, ProtocolWriter
from flow_sdk.protocol import derive as request
from flow_sdk.protocol import derive as response
from flow_sdk.protocol.derive import Request, Response
from flow_sdk.protocol.flow import Spec, SpecRequest
from flow_sdk.protocol.wire import ProtocolError, describe_validation_error, encode, parse_message

_READ_PREFIX = b'{"read":'
_PUBLISHED = b'{"published":{"doc":'


class Publisher:
    """Publishes documents of the derived collection: `publish(doc)`. Also callable with a
    whole `Published` (or 0.1.x's `{"doc": ...}` dict), as flow-sdk 0.1.x derivations did."""

    __slots__ = ("_writer", "_buf", "open", "published")

    def __init__(self, writer: ProtocolWriter) -> None:
        self._writer = writer
        self._buf = writer.buffer
        self.open = False
        """Whether publishing is allowed now (while a read or the flush is handled)."""
        self.published = 0

    def publish(self, doc: Mapping[str, Any]) -> None:
        """Publish one document (a JSON object) of the derived collection."""
        if not self.open:
            raise ProtocolError(
                "a document was published outside `read` and `flush`; publish only while "
                "they are handled"
            )
        if not isinstance(doc, Mapping):
            raise ProtocolError(
                f"published documents must be JSON objects, not {type(doc).__name__}"
            )
        buf = self._buf
        buf += _PUBLISHED
        buf += orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)
        buf += b"}}\n"
        self.published += 1
        if len(buf) >= FLUSH_BYTES:
            self._writer.flush()

    def __call__(self, published: Any) -> None:
        if isinstance(published, response.Published):
            self.publish(published.doc)
        elif isinstance(published, Mapping) and set(published) == {"doc"}:
            self.publish(published["doc"])
        else:
            raise ProtocolError(
                "call the publisher with a document as `publish.publish(doc)`, or with "
                '`Published(doc=...)` / `{"doc": ...}`'
            )


class Connector(BaseConnector):
    """A derivation connector. Subclass it, implement `spec`, `validate` and `read` (plus
    `flush` / `start_commit` when the derivation keeps state), and call `main()`.

    Hooks return a response model or, as in flow-sdk 0.1.x, a plain dict of it; hooks whose
    response is optional may return None for an empty one."""

    _transforms: int = 0

    # ---- hooks ----

    @abc.abstractmethod
    def spec(self, spec: SpecRequest) -> Spec | dict[str, Any]:
        """The endpoint config schema and the lambda config schema (`resourceConfigSchema`).
        `spec.config` may be `{}` (the probe)."""

    @abc.abstractmethod
    def validate(self, validate: request.Validate) -> response.Validated | dict[str, Any]:
        """One `ValidatedTransform` per transform, in request order; raise `ValidateError`
        with a sentence for the user when config or lambdas are wrong."""

    def open(self, open: request.Open) -> response.Opened | dict[str, Any] | None:
        """Start a session deriving `open.collection` from the last committed `open.state`
        (`None` or `{}` when there is none). Default: nothing to prepare."""
        return None

    @abc.abstractmethod
    def read(self, read: request.Read, publish: Publisher) -> None:
        """One source document of transform `read.transform` (`read.doc`, shuffled by
        `read.shuffle.key`). Publish derived documents with `publish.publish(doc)`."""

    def flush(
        self, flush: request.Flush, publish: Publisher
    ) -> response.Flushed | dict[str, Any] | None:
        """The transaction's reads are done: publish what was held back. Default: nothing."""
        return None

    def start_commit(
        self, start_commit: request.StartCommit
    ) -> response.StartedCommit | dict[str, Any] | None:
        """The runtime commits the transaction: return the state update that commits with it
        (e.g. `StartedCommit(state=ConnectorState(updated=patch, mergePatch=True))`), or None
        for no change."""
        legacy = getattr(self, "startCommit", None)  # flow-sdk 0.1.x spelling of this hook
        return legacy(start_commit) if callable(legacy) else None

    def reset(self, reset: request.Reset) -> None:
        """Catalog tests only: forget all state between test cases. Default: nothing."""

    def close(self) -> None:
        """The session ended cleanly (stdin closed between transactions): release resources."""

    # ---- the loop ----

    @final
    def serve(self, lines: Iterator[bytes], writer: ProtocolWriter) -> None:
        publisher = Publisher(writer)
        phase = "idle"  # idle → (open) ready → reading → flushed → ready ...
        read_hook = self.read
        for line in lines:
            if line.startswith(_READ_PREFIX) and (read := _parse_read(line)) is not None:
                variant = "read"
            else:
                req = parse_message(Request, line)
                variant = req.variant
                read = req.read
            if variant != "read":
                phase = self._control(req, phase, publisher, writer)
                continue
            if phase not in ("ready", "reading"):
                raise ProtocolError(_out_of_turn("read", phase))
            if not 0 <= read.transform < self._transforms:
                raise ProtocolError(
                    f"`read` names transform {read.transform}, but the opened derivation "
                    f"has {self._transforms} transform(s)"
                )
            phase = "reading"
            publisher.open = True
            try:
                read_hook(read, publisher)
            finally:
                publisher.open = False
        if phase in ("reading", "flushed"):
            raise ProtocolError(
                "stdin ended in the middle of a transaction (after `read` or `flush`, before "
                "`startCommit`); the runtime closes a derivation only between transactions"
            )
        writer.flush()
        self.close()

    def _control(
        self, req: Request, phase: str, publisher: Publisher, writer: ProtocolWriter
    ) -> str:
        """Answer one request other than `read` in `phase`; returns the phase after it."""
        variant = req.variant
        if variant in ("spec", "validate"):
            if phase != "idle":
                raise ProtocolError(_out_of_turn(variant, phase))
            if variant == "spec":
                self._answer(writer, "spec", self.spec(req.spec))
            else:
                self._answer_validate(writer, req.validate_)
        elif variant == "open":
            if phase != "idle":
                raise ProtocolError(_out_of_turn("open", phase))
            derivation = req.open.collection.derivation or {}
            self._transforms = len(derivation.get("transforms") or [])
            self._answer(writer, "opened", self.open(req.open))
            return "ready"
        elif variant == "flush":
            if phase not in ("ready", "reading"):
                raise ProtocolError(_out_of_turn("flush", phase))
            publisher.open = True
            try:
                result = self.flush(req.flush, publisher)
            finally:
                publisher.open = False
            self._answer(writer, "flushed", result)
            return "flushed"
        elif variant == "startCommit":
            if phase != "flushed":
                raise ProtocolError(_out_of_turn("startCommit", phase))
            self._answer(writer, "startedCommit", self.start_commit(req.startCommit))
            return "ready"
        elif variant == "reset":
            if phase != "ready":
                raise ProtocolError(_out_of_turn("reset", phase))
            self.reset(req.reset)
        return phase

    def _answer(self, writer: ProtocolWriter, name: str, result: Any) -> None:
        if result is None and name not in ("spec", "validated"):
            writer.write(b'{"%s":{}}\n' % name.encode())
        else:
            writer.write(encode(hook_response(Response, name, result)))
        writer.flush()

    def _answer_validate(self, writer: ProtocolWriter, validate: request.Validate) -> None:
        validated = hook_response(Response, "validated", self.validate(validate))
        got, want = len(validated.validated.transforms), len(validate.transforms)
        if got != want:
            raise ProtocolError(
                f"the connector's `validated` lists {got} transform(s), but the request has "
                f"{want}: answer one per transform, in order"
            )
        writer.write(encode(validated))
        writer.flush()


def _out_of_turn(variant: str, phase: str) -> str:
    expected = {
        "idle": "`spec`, `validate` or `open`",
        "ready": "`read`, `flush` or (tests) `reset`",
        "reading": "`read` or `flush`",
        "flushed": "`startCommit`",
    }[phase]
    return f"`{variant}` arrived out of turn: expected {expected}"


def _parse_read(line: bytes) -> request.Read | None:
    """The fast path of reads: one orjson parse and a flat model validation. Returns None for
    a line the general parser should report on."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or len(data) != 1 + ("$internal" in data):
        return None
    payload = data.get("read")
    if not isinstance(payload, dict):
        return None
    try:
        return request.Read.model_validate(payload)
    except ValidationError as exc:
        raise ProtocolError(f"malformed `read`: {describe_validation_error(exc)}") from None
