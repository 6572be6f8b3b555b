"""A capture connector written against the raw protocol, so it can break any rule.

`SCRIPTED_MODE` (set through the catalog's `env`) picks the behaviour: a rule of the
strict runtime to break, or a well-behaved script (`acks`, `reduce`, `sessions`, `stream`,
`idle`, `backfill`) for session tests; `docs` sends the documents of `SCRIPTED_DOCS` (a JSON array) and
`deep` one document nested `SCRIPTED_DEPTH` levels, each in one checkpoint;
`naive-date-time` captures a timestamp without an offset, and `discover-names` discovers a
stream whose recommended name is not a catalog name. Stdlib only, so it starts fast."""

from __future__ import annotations

import json
import os
import sys
import time

MODE = os.environ.get("SCRIPTED_MODE", "")
SPEC = {
    "protocol": 3032023,
    "configSchema": {"type": "object"},
    "resourceConfigSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
    "documentationUrl": "https://example.com/scripted",
    "resourcePathPointers": ["/name"],
}


DISCOVERED = [
    {
        "recommendedName": "some greetings!",
        "resourceConfig": {"name": "greetings"},
        "documentSchema": {
            "type": "object",
            "properties": {"id": {"type": "integer"}},
            "required": ["id"],
        },
        "key": ["/id"],
        "resourcePath": ["greetings"],
    }
]


def send(message: object) -> None:
    text = message if isinstance(message, str) else json.dumps(message)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def log(msg: str, **fields: object) -> None:
    sys.stderr.write(json.dumps({"level": "info", "msg": msg, "fields": fields}) + "\n")
    sys.stderr.flush()


def doc(i: int, **extra: object) -> dict:
    return {"captured": {"binding": 0, "doc": {"id": i, **extra}}}


def deep_document(depth: int) -> str:
    """`{"id":1,"deep":{"a":{"a":…{}}}}` nested `depth` levels (the document is level 1), as
    text closing the captured envelope too: deeper than `json` itself could write."""
    return '{"id":1,"deep":' + '{"a":' * (depth - 2) + "{}" + "}" * (depth - 2) + "}}}"


def checkpoint(updated: object, merge: bool = True) -> dict:
    return {"checkpoint": {"state": {"updated": updated, "mergePatch": merge}}}


def answer_spec(request: dict) -> None:
    if MODE == "protocol-version":
        send({"spec": {k: v for k, v in SPEC.items() if k != "protocol"}})
    else:
        send({"spec": SPEC})


def answer_validate(request: dict) -> None:
    names = [b["resourceConfig"].get("name", "") for b in request["bindings"]]
    if MODE == "response-variant":
        send({"discovered": {"bindings": []}})
        return
    if MODE == "validated-bindings":
        names = names[:-1]
    if MODE == "unique-resource-paths":
        names = ["same" for _ in names]
    send({"validated": {"bindings": [{"resourcePath": [n]} for n in names]}})


def answer_apply(request: dict) -> None:
    send({"applied": {"actionDescription": f"applied version {request['apply']['version']}"}})
    if MODE == "one-response":
        send({"applied": {}})


def session(open_: dict, lines) -> None:  # noqa: ANN001
    state = open_.get("state") or {}
    if MODE == "exit-nonzero":
        log("connecting to the source")
        sys.stderr.write(
            json.dumps({"level": "error", "msg": "the source refused the password"}) + "\n"
        )
        sys.exit(3)
    broken_opened = {
        "opened-first": [json.dumps(doc(1)), '{"opened":{}}'],
        "no-nulls": ['{"opened":{"explicitAcknowledgements":null}}'],
        "no-duplicate-keys": ['{"opened":{},"opened":{}}'],
        "one-variant": ['{"opened":{},"captured":{"binding":0,"doc":{"id":1}}}'],
        "json-lines": ["this is not json"],
    }
    if MODE in broken_opened:
        for line in broken_opened[MODE]:
            send(line)
        return
    if MODE == "partial-message":
        sys.stdout.write('{"opened":{}}')
        sys.stdout.flush()
        return
    explicit = MODE in ("acks", "stream", "idle")
    send({"opened": {"explicitAcknowledgements": True} if explicit else {}})
    broken = {
        "one-opened": [{"opened": {}}],
        "checkpoint-state": [doc(1), {"checkpoint": {}}],
        "document-object": [{"captured": {"binding": 0, "doc": [1, 2]}}],
        "document-key": [{"captured": {"binding": 0, "doc": {"name": "no id"}}}],
        "document-schema": [doc("not-a-number")],
        "eof-within-checkpoint": [doc(1), checkpoint({}), doc(2)],
        "no-unknown-keys": ['{"captured":{"binding":0,"doc":{"id":1},"extra":true}}'],
        "binding-index": [{"captured": {"binding": 5, "doc": {"id": 1}}}],
        "session-response": [{"discovered": {"bindings": []}}],
        "document-size": [doc(1, v="x" * (16 * 1024 * 1024)), checkpoint({})],
        "naive-date-time": [doc(1, v="2024-01-02T03:04:05"), checkpoint({})],
        "backfill-begin-first": [doc(1), {"backfillBegin": {}}, checkpoint({})],
        "backfill-complete-begun": [doc(1), {"backfillComplete": {}}, checkpoint({})],
    }
    if MODE in broken:
        for message in broken[MODE]:
            send(message)
        return
    if MODE == "docs":
        for document in json.loads(os.environ["SCRIPTED_DOCS"]):
            send('{"captured":{"binding":0,"doc":' + json.dumps(document) + "}}")
        send(checkpoint({}))
        return
    if MODE == "deep":
        send('{"captured":{"binding":0,"doc":' + deep_document(int(os.environ["SCRIPTED_DEPTH"])))
        send(checkpoint({}))
        return
    if MODE == "reduce":
        for message in [doc(2, v="a"), doc(1, v="a"), doc(2, v="b"), checkpoint({"a": 1})]:
            send(message)
        time.sleep(0.3)
        for message in [doc(1, v="c"), checkpoint({"b": {"x": 1}})]:
            send(message)
        return
    if MODE == "acks":
        for i in (1, 2):
            send(doc(i))
            send(checkpoint({"n": i}))
            log("waiting for an acknowledgement")
            ack = json.loads(next(lines))
            log("acknowledged", checkpoints=ack["acknowledge"]["checkpoints"])
        return
    if MODE == "backfill":  # a sweep over two sessions: ids 1-2, then 3 and the complete
        if not state.get("sweeping"):
            for message in [doc(0), checkpoint({})]:
                send(message)  # an earlier transaction: the begin must not join it
            for message in [{"backfillBegin": {}}, doc(1), checkpoint({"sweeping": True})]:
                send(message)
            for message in [doc(2), checkpoint({})]:
                send(message)
            return
        for message in [doc(3), {"backfillComplete": {}}, checkpoint({"sweeping": None})]:
            send(message)
        return
    if MODE == "sessions":
        n = state.get("n", 0) + 1
        send(doc(n))
        send(checkpoint({"n": n, "seen": {str(n): True}}))
        return
    if MODE in ("stream", "idle"):
        import threading

        def read_acks() -> None:
            for _ in lines:
                pass
            log("stdin closed; exiting")
            os._exit(0)

        threading.Thread(target=read_acks, daemon=True).start()
        n = state.get("n", 0)
        while True:
            if MODE == "stream":
                n += 1
                send(doc(n))
                send(checkpoint({"n": n}))
            time.sleep(0.05)


def main() -> None:
    lines = (line for line in sys.stdin if line.strip())
    for line in lines:
        request = json.loads(line)
        if "spec" in request:
            answer_spec(request)
        elif "discover" in request:
            send({"discovered": {"bindings": DISCOVERED if MODE == "discover-names" else []}})
        elif "validate" in request:
            answer_validate(request["validate"])
        elif "apply" in request:
            answer_apply(request)
        elif "open" in request:
            session(request["open"], lines)
            return


if __name__ == "__main__":
    main()
