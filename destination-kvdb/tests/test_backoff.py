"""Waits the server asks for: Retry-After in seconds or as a date, an exhausted rate limit's
reset as a Unix time or a delay; exponential backoff otherwise."""

from __future__ import annotations

import email.utils

import pytest

from destination_kvdb.backoff import Backoff, reset_wait, server_wait

NOW = 1_800_000_000.0


def test_retry_after_seconds():
    assert server_wait({"Retry-After": "7"}, NOW) == 7.0


def test_retry_after_http_date():
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert server_wait({"Retry-After": date}, NOW) == pytest.approx(30.0)


def test_retry_after_in_the_past_means_now():
    assert server_wait({"Retry-After": email.utils.formatdate(NOW - 5, usegmt=True)}, NOW) == 0.0


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(NOW + 12)}, 12.0),
        ({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "45"}, 45.0),
        ({"X-Ratelimit-Remaining": "3", "X-Ratelimit-Reset": "45"}, None),
        ({"X-Ratelimit-Remaining": "0"}, None),
        ({"X-Ratelimit-Remaining": "zero", "X-Ratelimit-Reset": "4"}, None),
    ],
)
def test_rate_limit_reset(headers, wait):
    assert reset_wait(headers, NOW) == wait
    assert server_wait(headers, NOW) == wait


def test_retry_after_wins_over_the_reset():
    headers = {"Retry-After": "2", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "50"}
    assert server_wait(headers, NOW) == 2.0


def test_garbage_retry_after_falls_back_to_the_reset():
    headers = {"Retry-After": "soon", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "9"}
    assert server_wait(headers, NOW) == 9.0


def test_exponential_backoff_doubles_up_to_the_cap():
    backoff = Backoff(base=1.0, cap=8.0)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        wait = backoff.exponential(retry)
        assert ceiling / 2 <= wait <= ceiling
