"""source-bigdata's Airbyte CLI (`spec|check|discover|read`) that SIGKILLs itself at a chosen
record: the delegate of subprocess mode dying under the shim.

`RELIABILITY_KILL=<how>:<stream>:<position>` as in `killing_bigdata.py`; `how` is `before`
(die before printing that record: what the CDK's print buffer holds is lost), `flushed`
(print it, flush stdout, die) or `stated` (die right after the next STATE message was
flushed to stdout).
"""

from __future__ import annotations

import os
import signal
import sys

import orjson
from airbyte_cdk.logger import PRINT_BUFFER

from source_bigdata.run import BigdataEntrypoint
from source_bigdata.source import SourceBigdata

KILL_ENV = "RELIABILITY_KILL"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(args: list[str]) -> None:
    how, stream, position = "", "", -1
    if spec := os.environ.get(KILL_ENV):
        how, stream, text = spec.split(":")
        position = int(text)
    entrypoint = BigdataEntrypoint(SourceBigdata())
    parsed = entrypoint.parse_args(args)
    passed = False
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed):
            if how:
                msg = orjson.loads(message)
                record = msg.get("record") or {}
                data = record.get("data") or {}
                at = data.get("index") if stream == "bigdata" else data.get("id", 0) - 1
                if msg["type"] == "RECORD" and record.get("stream") == stream and at == position:
                    if how == "before":
                        die()
                    passed = True
                    print(f"{message}\n", end="")
                    if how == "flushed":
                        PRINT_BUFFER.flush()
                        die()
                    continue
                if msg["type"] == "STATE" and passed:
                    print(f"{message}\n", end="")
                    PRINT_BUFFER.flush()
                    die()
            print(f"{message}\n", end="")


if __name__ == "__main__":
    main(sys.argv[1:])
