"""Deterministic synthetic records: every record is a pure function of (seed, stream, index),
built from one cheap 64-bit integer mix, so a sweep can start anywhere and costs no I/O."""

from __future__ import annotations

import datetime
import zlib
from collections.abc import Iterator
from typing import Any

MASK64 = (1 << 64) - 1
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

FIRST_NAMES = (
    "ada", "alan", "barbara", "claude", "donald", "edsger", "frances", "grace",
    "hedy", "ivan", "john", "katherine", "linus", "margaret", "niklaus", "radia",
)  # fmt: skip
LAST_NAMES = (
    "lovelace", "turing", "liskov", "shannon", "knuth", "dijkstra", "allen", "hopper",
    "lamarr", "sutherland", "backus", "johnson", "torvalds", "hamilton", "wirth", "perlman",
)  # fmt: skip
STREETS = (
    "Oak St",
    "Maple Ave",
    "Cedar Rd",
    "Pine St",
    "Elm Ln",
    "Birch Way",
    "Willow Ct",
    "Spruce Dr",
)
FIRST_TITLES = tuple(name.title() for name in FIRST_NAMES)
LAST_TITLES = tuple(name.title() for name in LAST_NAMES)
PLACES = (
    ("lisbon", "PT"), ("oslo", "NO"), ("osaka", "JP"), ("lagos", "NG"),
    ("lima", "PE"), ("perth", "AU"), ("quebec", "CA"), ("tucson", "US"),
)  # fmt: skip
TAGS = ("alpha", "beta", "gamma", "delta", "vip", "trial", "churned", "beta-tester")
EVENT_TYPES = ("page_view", "click", "signup", "purchase", "refund", "logout", "search", "share")
PAGES = ("/", "/pricing", "/docs", "/blog", "/signup", "/cart", "/checkout", "/account")
REFERRERS = ("direct", "search", "social", "email", "partner", "ads", "news", "other")
DEVICES = ("linux", "macos", "windows", "android", "ios", "chromeos", "bsd", "tv")
BROWSERS = ("firefox", "chrome", "safari", "edge", "opera", "brave", "vivaldi", "lynx")
LABELS = ("red", "orange", "yellow", "green", "blue", "indigo", "violet", "black")


def mix64(x: int) -> int:
    """splitmix64's finalizer: consecutive inputs give unrelated, well-spread 64-bit outputs."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def stream_base(seed: int, stream: str) -> int:
    """The per-(seed, stream) offset of the hash sequence; crc32, unlike hash(), is stable."""
    return mix64((seed << 32) ^ zlib.crc32(stream.encode()))


def epoch_seconds(moment: datetime.datetime) -> int:
    """Whole seconds since the Unix epoch of an aware datetime."""
    return (moment - EPOCH) // datetime.timedelta(seconds=1)


class TimestampFormatter:
    """Formats epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`, caching date parts: records of a
    sweep fall on few days, so strftime runs once per day, not once per record."""

    max_days = 4096

    def __init__(self) -> None:
        self._dates: dict[int, str] = {}

    def __call__(self, seconds: int) -> str:
        day, rest = divmod(seconds, 86400)
        date = self._dates.get(day)
        if date is None:
            if len(self._dates) >= self.max_days:
                self._dates.clear()
            date = (EPOCH + datetime.timedelta(days=day)).strftime("%Y-%m-%d")
            self._dates[day] = date
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{date}T{hours:02d}:{minutes:02d}:{secs:02d}Z"


class RecordMaker:
    """Makes the records of one stream. `records(start, stop)` yields indices [start, stop)."""

    stream: str = ""
    step_seconds: int = 1

    def __init__(self, seed: int, start_seconds: int, record_count: int, data_name: str) -> None:
        self.base = stream_base(seed, self.stream)
        self.start_seconds = start_seconds
        self.record_count = record_count
        self.data_name = data_name
        self.timestamp = TimestampFormatter()

    def updated_at(self, index: int) -> str:
        """The cursor value of record `index`: strictly increasing with the index."""
        return self.timestamp(self.start_seconds + index * self.step_seconds)

    def records(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        make, base = self.make, self.base
        for index in range(start, stop):
            yield make(index, mix64(base + index))

    def make(self, index: int, h: int) -> dict[str, Any]:
        raise NotImplementedError


class BigdataRecords(RecordMaker):
    """Flat, small rows: the volume stream."""

    stream = "bigdata"

    def make(self, index: int, h: int) -> dict[str, Any]:
        return {
            "data_name": self.data_name,
            "index": index,
            "value": h & 0xFFFFFFFF,
            "score": ((h >> 32) & 0xFFFF) / 100,
            "label": LABELS[(h >> 48) & 7],
            "flag": bool((h >> 51) & 1),
        }


class UserRecords(RecordMaker):
    """People with an address object and tag/score arrays; one user per index."""

    stream = "users"
    step_seconds = 60

    def make(self, index: int, h: int) -> dict[str, Any]:
        first, last = h & 15, (h >> 4) & 15
        city, country = PLACES[(h >> 8) & 7]
        created = self.start_seconds - ((h >> 11) & 0xFFFFF)
        return {
            "id": index + 1,
            "updated_at": self.updated_at(index),
            "created_at": self.timestamp(created),
            "name": f"{FIRST_TITLES[first]} {LAST_TITLES[last]}",
            "email": f"{FIRST_NAMES[first]}.{LAST_NAMES[last]}.{index + 1}@example.com",
            "age": 18 + (h >> 31) % 70,
            "active": bool((h >> 38) & 1),
            "address": {
                "street": f"{(h >> 39) & 1023} {STREETS[(h >> 49) & 7]}",
                "city": city,
                "country": country,
                "postal_code": f"{(h >> 20) % 100000:05d}",
            },
            "tags": [TAGS[(h >> (52 + 3 * n)) & 7] for n in range((h >> 61) & 3)],
            "scores": [(h >> (8 * n)) & 255 for n in range((h >> 59) & 3)],
        }


class EventRecords(RecordMaker):
    """Things users did, with nested properties and an array of item objects."""

    stream = "events"
    step_seconds = 1

    def make(self, index: int, h: int) -> dict[str, Any]:
        h2 = mix64(h)
        kind = EVENT_TYPES[h & 7]
        return {
            "id": index + 1,
            "updated_at": self.updated_at(index),
            "user_id": 1 + (h >> 3) % max(self.record_count, 1),
            "type": kind,
            "properties": {
                "page": PAGES[(h >> 35) & 7],
                "referrer": REFERRERS[(h >> 38) & 7],
                "duration_ms": (h >> 41) & 0xFFFF,
                "device": {"os": DEVICES[(h >> 57) & 7], "browser": BROWSERS[(h >> 60) & 7]},
            },
            "items": [
                {
                    "sku": f"sku-{(h2 >> (16 * n)) & 0xFFF:04d}",
                    "quantity": 1 + ((h2 >> (16 * n + 12)) & 3),
                    "price_cents": 100 + ((h2 >> (16 * n + 4)) & 0x3FF) * 5,
                }
                for n in range((h >> 25) & 3 if kind in ("purchase", "refund") else 0)
            ],
        }


MAKERS: dict[str, type[RecordMaker]] = {
    maker.stream: maker for maker in (BigdataRecords, UserRecords, EventRecords)
}
