"""`flow-sdk singer-capture [options] -- <command...>`: any Singer tap executable as a Flow
capture connector, usable directly as `endpoint.local.command` in a catalog."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from flow_sdk import pip_env
from flow_sdk.singer.capture import CaptureShim
from flow_sdk.singer.process import SubprocessTap

USAGE = (
    "flow-sdk singer-capture [options] -- <singer tap command...>\n"
    "       flow-sdk singer-capture --pip REQUIREMENT [--python PY] [--constraint FILE] "
    "[options] [-- <entry point...>]"
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flow-sdk singer-capture",
        usage=USAGE,
        description=(
            "Run a Singer tap (any executable taking --config, --catalog, --state and "
            "--discover) as an Estuary Flow capture connector on stdin/stdout."
        ),
    )
    p.add_argument("--docs-url", help="documentation link of the Spec")
    p.add_argument(
        "--config-schema",
        type=Path,
        help="JSON file with the tap's config schema (default: the tap's --about settings)",
    )
    p.add_argument(
        "--no-schema-inference",
        action="store_true",
        help="do not mark discovered schemas with x-infer-schema",
    )
    p.add_argument(
        "--sourced-schemas",
        action="store_true",
        help="tell Flow the source's own stream schemas (sourcedSchema) at the start of each session",
    )
    pip_env.add_arguments(p)
    return p


def main(argv: list[str]) -> None:
    """Parse `argv` (everything after `singer-capture`) and serve the capture protocol."""
    if "--" in argv:
        split = argv.index("--")
        options, command = argv[:split], argv[split + 1 :]
    else:
        options, command = argv, []
    args = parser().parse_args(options)
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
