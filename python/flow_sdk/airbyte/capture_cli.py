"""`flow-sdk airbyte-capture [options] -- <command...>`: any Airbyte source executable as a
Flow capture connector, usable directly as `endpoint.local.command` in a catalog."""

from __future__ import annotations

import argparse
import os
import sys

from flow_sdk.airbyte.capture import CaptureShim
from flow_sdk.airbyte.process import SubprocessSource
from flow_sdk.connector import DOCS_URL_ENV

USAGE = "flow-sdk airbyte-capture [options] -- <airbyte connector command...>"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flow-sdk airbyte-capture",
        usage=USAGE,
        description=(
            "Run an Airbyte source connector (any executable that speaks the Airbyte protocol: "
            "a console script in another virtualenv, `python -m ...`, `docker run -i ...`) as an "
            "Estuary Flow capture connector on stdin/stdout."
        ),
    )
    p.add_argument("--docs-url", help="documentation link of the Spec (default: the source's own)")
    p.add_argument(
        "--no-schema-inference",
        action="store_true",
        help="do not mark discovered schemas with x-infer-schema",
    )
    p.add_argument(
        "--files-dir",
        help="directory for the config, catalog and state files handed to the connector "
        "(default: the temp directory); for `docker run`, mount it into the container at the same path",
    )
    p.add_argument(
        "--oauth2",
        help="Flow's OAuth2 spec, as JSON or a JSON file path, for a source whose advanced_auth "
        "cannot be expressed as one (older advanced_auth blocks name only config fields)",
    )
    p.add_argument(
        "--discard-state",
        action="store_true",
        help="ignore the checkpointed state and re-capture every binding from scratch "
        "(for state that cannot be understood)",
    )
    p.add_argument(
        "--sourced-schemas",
        action="store_true",
        help="tell Flow the source's own stream schemas (sourcedSchema) at the start of each session",
    )
    return p


def main(argv: list[str]) -> None:
    """Parse `argv` (everything after `airbyte-capture`) and serve the capture protocol."""
    if "--" in argv:
        split = argv.index("--")
        options, command = argv[:split], argv[split + 1 :]
    else:
        options, command = argv, []
    args = parser().parse_args(options)
    if not command:
        parser().error("give the Airbyte connector command after `--`, e.g. -- source-faker")
    if args.docs_url:
        os.environ[DOCS_URL_ENV] = args.docs_url
    shim = CaptureShim(
        delegate=SubprocessSource(command, files_dir=args.files_dir),
        oauth2=_oauth2(args.oauth2) if args.oauth2 else None,
        usesSchemaInference=not args.no_schema_inference,
        discard_state=True if args.discard_state else None,
        sourced_schemas=args.sourced_schemas,
    )
    shim.main()


def _oauth2(text: str) -> dict:
    """`--oauth2`: inline JSON, or the path of a JSON file."""
    import orjson

    raw = text
    if not text.lstrip().startswith("{"):
        try:
            with open(text, "rb") as f:
                raw = f.read()
        except OSError as exc:
            parser().error(f"--oauth2: cannot read {text!r}: {exc.strerror or exc}")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        parser().error(f"--oauth2 is not JSON: {exc}")
    if not isinstance(value, dict):
        parser().error("--oauth2 must be a JSON object (Flow's OAuth2 spec)")
    return value


if __name__ == "__main__":
    main(sys.argv[1:])
