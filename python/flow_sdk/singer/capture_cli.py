"""`flow-sdk singer-capture [options] -- <command...>`: any Singer tap executable as a Flow
capture connector, usable directly as `endpoint.local.command` in a catalog."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from flow_sdk import pip_env
from flow_sdk.capture.adapter_cli import capture_parser, parse_capture_args
from flow_sdk.singer.capture import CaptureShim
from flow_sdk.singer.process import SubprocessTap

USAGE = (
    "flow-sdk singer-capture [options] -- <singer tap command...>\n"
    "       flow-sdk singer-capture --pip REQUIREMENT [--python PY] [--constraint FILE] "
    "[options] [-- <entry point...>]"
)


def parser() -> argparse.ArgumentParser:
    p = capture_parser(
        "flow-sdk singer-capture",
        USAGE,
        "Run a Singer tap (any executable taking --config, --catalog, --state and "
        "--discover) as an Estuary Flow capture connector on stdin/stdout.",
        docs_url_help="documentation link of the Spec",
    )
    p.add_argument(
        "--config-schema",
        type=Path,
        help="JSON file with the tap's config schema (default: the tap's --about settings)",
    )
    pip_env.add_arguments(p)
    return p


def main(argv: list[str]) -> None:
    """Parse `argv` (everything after `singer-capture`) and serve the capture protocol."""
    args, command = parse_capture_args(parser, argv)
    command = pip_env.command_of(args, command)
    if not command:
        parser().error("give the Singer tap command after `--`, e.g. -- tap-github")
    schema = None
    if args.config_schema is not None:
        try:
            schema = orjson.loads(args.config_schema.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            parser().error(f"--config-schema {args.config_schema}: {exc}")
    shim = CaptureShim(
        delegate=SubprocessTap(command, config_schema=schema),
        usesSchemaInference=not args.no_schema_inference,
        documentation_url=args.docs_url,
        sourced_schemas=args.sourced_schemas,
    )
    shim.main()


if __name__ == "__main__":
    main(sys.argv[1:])
