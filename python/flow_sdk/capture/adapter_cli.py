"""What the capture adapters' command lines share (`flow-sdk airbyte-capture`,
`flow-sdk singer-capture`): the connector command after `--`, the flags every capture
adapter has, and the pip options that build the connector's own environment."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def capture_parser(prog: str, usage: str, description: str, docs_url_help: str) -> argparse.ArgumentParser:
    """A parser with the flags every capture adapter has; the adapter adds its own, then
    `pip_env.add_arguments`."""
    p = argparse.ArgumentParser(prog=prog, usage=usage, description=description)
    p.add_argument("--docs-url", help=docs_url_help)
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
    return p


def parse_capture_args(
    parser: Callable[[], argparse.ArgumentParser], argv: list[str]
) -> tuple[argparse.Namespace, list[str]]:
    """The options before `--` and the connector command after it (empty without `--`)."""
    if "--" in argv:
        split = argv.index("--")
        options, command = argv[:split], argv[split + 1 :]
    else:
        options, command = argv, []
    return parser().parse_args(options), command
