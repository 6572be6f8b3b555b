"""`flow-sdk airbyte-materialize [options] -- <command...>`: any Airbyte destination
executable as a Flow materialization connector process (the subprocess mode of the shim)."""

from __future__ import annotations

import argparse

from flow_sdk.airbyte.materialize import ECHO_TIMEOUT_SECONDS, MaterializeShim
from flow_sdk.logger import last_words

USAGE = "flow-sdk airbyte-materialize [options] -- <destination command...>"


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
        "--documentation-url", default="", help="documentation link of the Spec response"
    )
    return p


def main(argv: list[str]) -> None:
    """Parse `argv` (without the program and subcommand names) and run the connector."""
    if "--" in argv:
        at = argv.index("--")
        options, command = argv[:at], argv[at + 1 :]
    else:
        options, command = argv, []
    args = parser().parse_args(options)
    if not command:
        last_words(f"no Airbyte destination command was given; usage: {USAGE}")
        raise SystemExit(2)
    if args.echo_timeout <= 0:
        last_words("--echo-timeout must be a positive number of seconds")
        raise SystemExit(2)
    MaterializeShim(
        command=command,
        documentation_url=args.documentation_url,
        echo_timeout=args.echo_timeout,
    ).main()
