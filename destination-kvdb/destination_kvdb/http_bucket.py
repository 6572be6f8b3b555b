"""A KvDB.io bucket over its HTTP API (requests): transactions as `POST /<bucket>` with a
`txn` array, listing as `GET /<bucket>/?prefix=&skip=&limit=&values=&format=json`, the secret
key as HTTP Basic user. 429 and 5xx (and dropped connections) are retried as the server's
rate-limit headers ask; any other failure is reported at once, naming what to fix."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import requests

from destination_kvdb.backoff import Backoff, reset_wait, server_wait
from destination_kvdb.bucket import Bucket, BucketError, Operation

PAGE = 1000
"""Keys per listing request."""
TIMEOUT = (10.0, 120.0)
"""Connect and read timeouts, seconds."""

log = logging.getLogger("airbyte")


class KvdbBucket(Bucket):
    always_durable = True

    def __init__(
        self,
        bucket_id: str,
        secret_key: str,
        base_url: str = "https://kvdb.io",
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bucket_id = bucket_id
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/{bucket_id}"
        self.description = f"KvDB bucket {bucket_id} at {self.base_url}"
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.session = requests.Session()
        self.session.auth = (secret_key, "")
        self.session.headers["Accept"] = "application/json"
        self.requests = 0
        self.retries = 0
        self._not_before = 0.0

    # ---- the bucket ----

    def transact(self, operations: Sequence[Operation], durable: bool = True) -> None:
        if not operations:
            return
        txn = [
            {"set": key, "value": value} if kind == "set" else {"delete": key}
            for kind, key, value in operations
        ]
        self._request(
            "POST",
            self.url,
            what=f"a transaction of {len(txn)} operations",
            data=orjson.dumps({"txn": txn}),
            headers={"Content-Type": "application/json"},
        )

    def keys(self, prefix: str) -> list[str]:
        return [str(entry) for entry in self._list(prefix, values=False)]

    def items(self, prefix: str) -> list[tuple[str, str]]:
        out = []
        for entry in self._list(prefix, values=True):
            key, value = entry
            out.append((key, value if isinstance(value, str) else orjson.dumps(value).decode()))
        return out

    def close(self) -> None:
        self.session.close()

    # ---- HTTP ----

    def _list(self, prefix: str, *, values: bool) -> list[Any]:
        out: list[Any] = []
        while True:
            params = {
                "prefix": prefix,
                "skip": str(len(out)),
                "limit": str(PAGE),
                "values": "true" if values else "false",
                "format": "json",
            }
            response = self._request(
                "GET", f"{self.url}/", what=f"listing keys with prefix {prefix!r}", params=params
            )
            try:
                page = response.json()
            except ValueError:
                page = None
            if not isinstance(page, list):
                raise BucketError(
                    f"{self.description} answered a key listing with something other than a "
                    f"JSON array ({response.text[:200]!r}); is base_url a KvDB API?"
                )
            out.extend(page)
            if len(page) < PAGE:
                return out

    def _request(self, method: str, url: str, *, what: str, **kwargs: Any) -> requests.Response:
        backoff = self.backoff
        for attempt in range(1, backoff.attempts + 1):
            if (pause := self._not_before - time.monotonic()) > 0:
                self.sleep(pause)
            self.requests += 1
            try:
                response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = f"cannot reach {self.base_url} ({type(exc).__name__}: {exc})"
                if attempt == backoff.attempts:
                    raise BucketError(
                        f"{what} on {self.description} failed: {reason}; check base_url and the "
                        "network"
                    ) from None
                self._retry(what, reason, backoff.exponential(attempt), attempt)
                continue
            if (wait := reset_wait(response.headers)) is not None:
                self._not_before = time.monotonic() + min(wait, backoff.max_wait)
            status = response.status_code
            if status < 300:
                return response
            if status == 429 or status >= 500:
                reason = f"HTTP {status} {_excerpt(response)}"
                asked = server_wait(response.headers)
                if asked is not None and asked > backoff.max_wait:
                    raise BucketError(
                        f"{what} on {self.description} failed: {reason}, and the server asks to "
                        f"wait {asked:.0f} s before retrying; run again later or raise the "
                        "bucket's rate limit"
                    )
                if attempt == backoff.attempts:
                    raise BucketError(
                        f"{what} on {self.description} failed {attempt} times, last with "
                        f"{reason}; run again later"
                    )
                wait = asked if asked is not None else backoff.exponential(attempt)
                self._retry(what, reason, wait, attempt)
                continue
            raise self._refused(what, response)
        raise AssertionError("unreachable: the loop returns or raises")

    def _retry(self, what: str, reason: str, wait: float, attempt: int) -> None:
        self.retries += 1
        log.warning(
            "%s on %s: %s; retrying in %.1f s (attempt %d of %d)",
            what,
            self.description,
            reason,
            wait,
            attempt + 1,
            self.backoff.attempts,
        )
        self.sleep(wait)

    def _refused(self, what: str, response: requests.Response) -> BucketError:
        status = response.status_code
        reason = f"HTTP {status} {_excerpt(response)}"
        if status in (401, 403):
            return BucketError(
                f"{self.description} refused the secret key ({reason}) for {what}; check "
                "config.bucket.secret_key (it must be the bucket's secret key, which may list "
                "and delete keys)",
                config_problem=True,
            )
        if status == 404:
            return BucketError(
                f"{self.description} does not exist ({reason}); check config.bucket.bucket_id "
                "and config.bucket.base_url",
                config_problem=True,
            )
        return BucketError(f"{what} on {self.description} was refused: {reason}")


def _excerpt(response: requests.Response) -> str:
    text = " ".join(response.text.split())[:300]
    return f"({text})" if text else ""
