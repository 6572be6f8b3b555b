"""`gc_paused`: the collector is off inside the block and as it was after it. `PhasePause`:
the same across a phase of a loop, with young passes on demand while paused."""

from __future__ import annotations

import gc

import pytest

from flow_sdk.gc_pause import PhasePause, gc_paused


@pytest.fixture(autouse=True)
def _collector_restored():
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("enabled_before", [True, False])
def test_paused_inside_and_restored_after(enabled_before: bool) -> None:
    gc.enable() if enabled_before else gc.disable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner block leaves it off for the outer one
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled() is enabled_before


def test_restored_when_the_block_fails() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


@pytest.mark.parametrize("enabled_before", [True, False])
def test_a_phase_pause_is_off_from_start_to_stop(enabled_before: bool) -> None:
    gc.enable() if enabled_before else gc.disable()
    pause = PhasePause()
    pause.stop()  # not started: nothing changes
    assert gc.isenabled() is enabled_before
    pause.start()
    pause.start()  # started twice, stopped once
    assert not gc.isenabled()
    pause.stop()
    assert gc.isenabled() is enabled_before


def test_a_phase_pause_makes_young_passes_only_while_paused() -> None:
    passes: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            passes.append(info["generation"])

    pause = PhasePause()
    gc.callbacks.append(record)
    try:
        pause.young_pass()  # not paused: the collector runs on its own
        pause.start()
        pause.young_pass()
        pause.young_pass()
        pause.stop()
    finally:
        gc.callbacks.remove(record)
    assert passes == [0, 0]
