"""Every strictness rule of the local runtime, each broken on purpose by scripted_capture.py
and rejected with its own message that names the rule and quotes the offending line."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from flow_sdk.runtime.capture.preview import preview_capture
from flow_sdk.runtime.catalog.load import load_catalog
from flow_sdk.runtime.console import Console
from flow_sdk.runtime.errors import ConnectorFailed, ProtocolViolation
from flow_sdk.runtime.preview import PreviewOptions


def run_preview(catalog: Path, **options: object) -> tuple[bytes, str]:
    loaded = load_catalog(catalog)
    out, err = io.BytesIO(), io.StringIO()
    try:
        preview_capture(
            loaded,
            loaded.capture(None),
            PreviewOptions(progress=False, **options),
            output=out,
            console=Console(err),
        )
    finally:
        print(err.getvalue())
    return out.getvalue(), err.getvalue()


# mode (and rule) → a fragment of the quoted offending line, or None when there is none
RULES = {
    "protocol-version": '"configSchema"',
    "response-variant": '{"discovered"',
    "validated-bindings": None,
    "unique-resource-paths": None,
    "one-response": '{"applied":{}}',
    "opened-first": '{"captured"',
    "no-nulls": '"explicitAcknowledgements":null',
    "no-duplicate-keys": '{"opened":{},"opened":{}}',
    "one-variant": '{"opened":{},"captured"',
    "json-lines": "this is not json",
    "partial-message": '{"opened":{}}',
    "one-opened": '{"opened":{}}',
    "checkpoint-state": '{"checkpoint": {}}',
    "document-object": '"doc": [1, 2]',
    "document-key": '"no id"',
    "document-schema": '"not-a-number"',
    "document-size": '"v": "xxxxxxxxxxxxxxxx',
    "eof-within-checkpoint": None,
    "no-unknown-keys": '"extra":true',
    "binding-index": '"binding": 5',
    "session-response": '{"discovered"',
    "backfill-begin-first": '{"backfillBegin": {}}',
    "backfill-complete-begun": '{"backfillComplete": {}}',
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_is_enforced_with_its_own_message(rule: str, scripted) -> None:
    # the Validated rules need two bindings to get wrong
    two = rule in ("validated-bindings", "unique-resource-paths")
    catalog = scripted(rule, names=("things", "more") if two else ("things",))
    with pytest.raises(ProtocolViolation) as caught:
        run_preview(catalog)
    assert caught.value.rule == rule
    message = str(caught.value)
    assert message.startswith(f"protocol violation [{rule}]: ")
    fragment = RULES[rule]
    if fragment is not None:
        assert "offending line: " in message
        quoted = message.split("offending line: ", 1)[1]
        assert fragment.replace(" ", "") in quoted.replace(" ", "")


def test_a_document_over_16_mb_names_flows_limit(scripted) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        run_preview(scripted("document-size"))
    size = len(b'{"id":1,"v":""}') + 16 * 1024 * 1024
    assert caught.value.detail == (
        f"binding 0 (acmeCo/things): the document is {size} bytes of JSON, over Flow's limit "
        "of 16777216 bytes (Estuary allows documents up to 16 MB in size)"
    )


def test_a_naive_timestamp_is_not_a_date_time(scripted, yaml_edit) -> None:
    catalog = scripted("naive-date-time")

    def date_time(data: dict) -> None:
        schema = data["collections"]["acmeCo/things"]["schema"]
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"  # format: annotation
        schema["properties"]["v"]["format"] = "date-time"

    yaml_edit(catalog, date_time)
    with pytest.raises(ProtocolViolation) as caught:
        run_preview(catalog)
    assert caught.value.rule == "document-schema"
    assert caught.value.detail == (
        "a document of binding 0 is invalid against the write schema of acmeCo/things: "
        "at /v: '2024-01-02T03:04:05' is not a 'date-time'"
    )


def test_messages_differ_between_rules(scripted) -> None:
    """Each rule explains itself differently (not one generic 'bad response')."""
    details = set()
    for rule in ("checkpoint-state", "document-object", "document-schema", "eof-within-checkpoint"):
        with pytest.raises(ProtocolViolation) as caught:
            run_preview(scripted(rule))
        details.add(caught.value.detail)
    assert len(details) == 4


def test_a_failing_connector_reports_its_last_log_line(scripted) -> None:
    with pytest.raises(ConnectorFailed, match="exit code 3.*the source refused the password"):
        run_preview(scripted("exit-nonzero"))


def test_backfill_signals_out_of_order_are_sentences_naming_the_binding(scripted) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        run_preview(scripted("backfill-begin-first"))
    assert caught.value.detail == (
        "`backfillBegin` of binding 0 (acmeCo/things) came after documents of that binding in "
        "the same transaction; it must be the binding's first message of its transaction, so "
        "emit it before the backfill's documents (or checkpoint first)"
    )
    with pytest.raises(ProtocolViolation) as caught:
        run_preview(scripted("backfill-complete-begun"))
    assert caught.value.detail == (
        "`backfillComplete` of binding 0 (acmeCo/things) came without a `backfillBegin` before "
        "it: no backfill of that binding is in progress, so there is nothing to complete (Flow "
        "ignores such a complete and its materializations keep the old rows)"
    )


def test_a_backfill_begun_in_one_session_completes_in_the_next(scripted) -> None:
    """The begin's checkpoint group is a transaction of its own (not combined with the
    checkpoint before it), and a later session may complete what an earlier one began."""
    out, _ = run_preview(scripted("backfill"), sessions=[-1, -1], output_state=True)
    lines = [line for line in out.decode().splitlines() if line]
    ids = [
        [int(i) for i in re.findall(r'"id":(\d+)', line)]
        for line in lines
        if line.startswith('["acmeCo/things"')
    ]
    assert ids == [[0], [1], [2], [3]]
    states = [line for line in lines if line.startswith('["connectorState"')]
    assert len(states) >= 4, "a transaction before the begin, the begin's, and after"


def test_a_complete_after_an_initial_state_is_ignored_as_flow_ignores_it(scripted) -> None:
    """From `--initial-state` the begin may have come before the preview: the complete is
    dropped with a warning instead (Flow ignores a complete without a persisted begin)."""
    out, err = run_preview(scripted("backfill-complete-begun"), initial_state={"resumed": True})
    assert b'"id":1' in out
    assert "`backfillComplete` of binding 0 (acmeCo/things) came without a `backfillBegin` " in err
    assert "ignored, as Flow ignores a complete without a persisted begin" in err
