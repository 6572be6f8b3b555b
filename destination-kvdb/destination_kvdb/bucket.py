"""What the writer needs of a bucket, whichever it is: atomic transactions of set/delete
operations, prefix listing, and errors that say what to fix. KvDB's limits are the model's."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import Literal

MAX_KEY_BYTES = 128
"""KvDB keys are at most 128 bytes (UTF-8)."""
MAX_VALUE_BYTES = 16 * 1024
"""KvDB values are at most 16 KB."""
PROBE_PREFIX = "_flow_sdk_check/"

Operation = tuple[Literal["set"], str, str] | tuple[Literal["delete"], str, None]
"""`("set", key, value)` or `("delete", key, None)`, applied in order within a transaction."""


class BucketError(Exception):
    """A bucket operation failed; the message says what and what to do. `config_problem`
    is true when only a config change can fix it (bad secret, unknown bucket, bad path)."""

    def __init__(self, message: str, *, config_problem: bool = False) -> None:
        super().__init__(message)
        self.config_problem = config_problem


class Bucket(abc.ABC):
    """A key/value bucket. Values are text (the writer stores records as JSON)."""

    description: str
    always_durable: bool = False
    """Every transaction is durable whatever `durable` says (KvDB's requests): the writer
    then sends a batch as soon as it is full instead of holding it for a later sync."""

    @abc.abstractmethod
    def transact(self, operations: Sequence[Operation], durable: bool = True) -> None:
        """Apply `operations` atomically: when this returns, they are committed. With
        `durable`, this and every earlier transaction survive a power loss too; without,
        one may be lost until a later durable one (the writer asks for durability only
        where it confirms a state, the one promise a destination makes)."""

    @abc.abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """Every key starting with `prefix`, in key order."""

    @abc.abstractmethod
    def items(self, prefix: str) -> list[tuple[str, str]]:
        """Every (key, value) whose key starts with `prefix`, in key order."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection to the bucket."""

    def probe(self) -> None:
        """What `check` does: write a probe key, list it back, delete it."""
        key = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        self.transact([("set", key, '"_airbyte_connection_check"')])
        try:
            if key not in self.keys(PROBE_PREFIX):
                raise BucketError(
                    f"{self.description} accepted a write of {key!r} but does not list it; the "
                    "key may lack list permission: use the bucket's secret key"
                )
        finally:
            self.transact([("delete", key, None)])

    def __enter__(self) -> Bucket:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def check_limits(stream: str, key: str, value: str | bytes | None) -> None:
    """Raise a clear error for a key or value KvDB would refuse (the local bucket too).
    `value` as text or as its UTF-8 bytes."""
    size = len(key) if len(key) * 4 <= MAX_KEY_BYTES else len(key.encode())
    if size > MAX_KEY_BYTES:
        raise BucketError(
            f"stream {stream!r}: the key {key[:60]!r}... is {size} bytes, more than the "
            f"{MAX_KEY_BYTES} a bucket key may have; shorten the stream name or primary key"
        )
    if isinstance(value, str):
        value = value.encode()
    if value is not None and (size := len(value)) > MAX_VALUE_BYTES:
        raise BucketError(
            f"stream {stream!r}: the record under key {key!r} is {size} bytes as JSON, more "
            f"than the {MAX_VALUE_BYTES} a bucket value may have; select fewer fields"
        )
