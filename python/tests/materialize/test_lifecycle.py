"""The materialize transaction state machine on its own: what may come next, and where
stdin may end."""

from __future__ import annotations

import pytest

from flow_sdk.materialize.lifecycle import Phase, TransactionLifecycle
from flow_sdk.protocol.wire import ProtocolError


def drive(*variants: str) -> TransactionLifecycle:
    lifecycle = TransactionLifecycle()
    for v in variants:
        lifecycle.admit(v)
    return lifecycle


def test_pipelined_loads_and_acknowledge_in_any_order() -> None:
    lc = drive(
        "spec",
        "open",
        "acknowledge",
        "flush",
        "store",
        "startCommit",
        "load",
        "load",
        "acknowledge",
        "load",
    )
    assert lc.phase is Phase.LOAD and lc.loads == 3 and not lc.awaiting_acknowledge
    lc.admit("flush")
    assert lc.phase is Phase.STORE


@pytest.mark.parametrize(
    ("variants", "at_boundary"),
    [
        ((), True),
        (("spec", "validate"), True),
        (("open",), True),
        (("open", "acknowledge"), True),
        (("open", "acknowledge", "load"), False),
        (("open", "acknowledge", "flush"), False),
        (("open", "acknowledge", "flush", "startCommit"), False),
        (("open", "acknowledge", "flush", "startCommit", "acknowledge"), True),
        (("open", "acknowledge", "flush", "startCommit", "load", "acknowledge"), False),
    ],
)
def test_where_stdin_may_end(variants: tuple[str, ...], at_boundary: bool) -> None:
    lc = drive(*variants)
    assert lc.at_boundary is at_boundary
    if at_boundary:
        lc.check_eof()
    else:
        with pytest.raises(ProtocolError, match="stdin ended"):
            lc.check_eof()


def test_counts_transactions_and_stores() -> None:
    lc = drive("open", "acknowledge", "flush", "store", "store")
    assert lc.stores == 2
    lc.admit("startCommit")
    assert lc.transactions == 1 and lc.awaiting_acknowledge


@pytest.mark.parametrize(
    "before",
    [
        (),
        ("open",),
        ("open", "acknowledge"),
        ("open", "acknowledge", "flush"),
        ("open", "acknowledge", "flush", "store"),
        ("open", "acknowledge", "flush", "startCommit"),
    ],
)
def test_admit_store_is_admit_of_a_store(before: tuple[str, ...]) -> None:
    """The store phase's shortcut has the state machine's outcome and error everywhere."""
    general, short = drive(*before), drive(*before)
    try:
        general.admit("store")
    except ProtocolError as exc:
        with pytest.raises(ProtocolError) as caught:
            short.admit_store()
        assert str(caught.value) == str(exc)
        return
    short.admit_store()
    assert vars(short) == vars(general)
