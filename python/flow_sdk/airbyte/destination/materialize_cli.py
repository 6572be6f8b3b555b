"""`flow-sdk airbyte-materialize [options] -- <command...>`: any Airbyte destination
executable as a Flow materialization connector process (the subprocess mode of the shim)."""

from __future__ import annotations

import argparse
from typing import Any

from flow_sdk import pip_env
from flow_sdk.airbyte.destination.bounds import WRITE_SECONDS, WRITE_TRANSACTIONS
from flow_sdk.airbyte.destination.materialize import ECHO_TIMEOUT_SECONDS, MaterializeShim
from flow_sdk.airbyte.destination.states import STATE_TYPES, STREAM
from flow_sdk.logger import last_words

USAGE = (
    "flow-sdk airbyte-materialize [options] -- <destination command...>\n"
    "       flow-sdk airbyte-materialize --pip REQUIREMENT [--python PY] [--constraint FILE] "
    "[options] [-- <entry point...>]"
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flow-sdk airbyte-materialize",
        usage=USAGE,
        description=(
            "Serve Flow's materialize protocol on stdin/stdout by running an Airbyte "
            "destination's `spec`, `check` and `write` commands. Everything after `--` is the "
            "destination's command, e.g. `-- destination-duckdb` or `-- python main.py`."
        ),
    )
    p.add_argument(
        "--echo-timeout",
        type=float,
        default=ECHO_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=(
            "how long the destination may take to echo a transaction's state before its "
            "write() is ended to collect the echo (default: %(default)s)"
        ),
    )
    p.add_argument(
        "--state-type",
        choices=STATE_TYPES,
        default=STREAM,
        help=(
            "the STATE messages that end a transaction: one per stream that got records "
            "(`stream`, what most destinations confirm) or one for all streams (`global`) "
            "(default: %(default)s)"
        ),
    )
    p.add_argument(
        "--write-transactions",
        type=int,
        default=WRITE_TRANSACTIONS,
        metavar="N",
        help=(
            "end the destination's write() (STREAM_STATUS COMPLETE, end of input) after N "
            "transactions, so it finalizes what they stored (default: %(default)s)"
        ),
    )
    p.add_argument(
        "--write-seconds",
        type=float,
        default=WRITE_SECONDS,
        metavar="SECONDS",
        help=(
            "end the destination's write() at the first transaction boundary after it was "
            "open this long; a backfill's write() ends when the runtime sends nothing for "
            "this long (default: %(default)s)"
        ),
    )
    p.add_argument(
        "--docs-url",
        "--documentation-url",  # the older name, kept
        dest="documentation_url",
        default="",
        help="documentation link of the Spec response (as airbyte-capture and singer-capture)",
    )
    pip_env.add_arguments(p)
    return p


def shim_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `MaterializeShim` keyword arguments of parsed options (exits on a bad value)."""
    for flag, value in (
        ("--echo-timeout", args.echo_timeout),
        ("--write-seconds", args.write_seconds),
        ("--write-transactions", args.write_transactions),
    ):
        if not value > 0:
            last_words(f"{flag} must be a positive number, not {value:g}")
            raise SystemExit(2)
    return {
        "documentation_url": args.documentation_url,
        "echo_timeout": args.echo_timeout,
        "state_type": args.state_type,
        "write_transactions": args.write_transactions,
        "write_seconds": args.write_seconds,
    }


def main(argv: list[str]) -> None:
    """Parse `argv` (without the program and subcommand names) and run the connector."""
    if "--" in argv:
        at = argv.index("--")
        options, command = argv[:at], argv[at + 1 :]
    else:
        options, command = argv, []
    args = parser().parse_args(options)
    command = pip_env.command_of(args, command)
    if not command:
        last_words(f"no Airbyte destination command was given; usage: {USAGE}")
        raise SystemExit(2)
    options = shim_options(args)
    MaterializeShim(command=command, **options).main()
