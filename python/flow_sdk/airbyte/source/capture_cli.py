"""`flow-sdk airbyte-capture [options] -- <command...>`: any Airbyte source executable as a
Flow capture connector, usable directly as `endpoint.local.command` in a catalog."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile

from flow_sdk import pip_env
from flow_sdk.airbyte.source.capture import CaptureShim
from flow_sdk.airbyte.source.manifest import (
    UNSAFE_CODE_ENV,
    default_runner,
    load_manifest,
    manifest_spec,
    runner_args,
)
from flow_sdk.airbyte.source.process import SubprocessSource
from flow_sdk.capture.adapter_cli import capture_parser, parse_capture_args
from flow_sdk.connector import DOCS_URL_ENV
from flow_sdk.containers import image_command
from flow_sdk.errors import ConnectorError

USAGE = (
    "flow-sdk airbyte-capture [options] -- <airbyte connector command...>\n"
    "       flow-sdk airbyte-capture --pip REQUIREMENT [--python PY] [--constraint FILE] "
    "[options] [-- <entry point...>]\n"
    "       flow-sdk airbyte-capture --image IMAGE [--network NET] [options]\n"
    "       flow-sdk airbyte-capture --manifest PATH [--components PATH] [options] [-- <runner...>]"
)


def parser() -> argparse.ArgumentParser:
    p = capture_parser(
        "flow-sdk airbyte-capture",
        USAGE,
        "Run an Airbyte source connector (any executable that speaks the Airbyte protocol: "
        "a console script in another virtualenv, `python -m ...`, `docker run -i ...`) as an "
        "Estuary Flow capture connector on stdin/stdout.",
        docs_url_help="documentation link of the Spec (default: the source's own)",
    )
    p.add_argument(
        "--files-dir",
        help="directory for the config, catalog and state files handed to the connector "
        "(default: the temp directory); for `docker run`, mount it into the container at the same path",
    )
    p.add_argument(
        "--image",
        help="an Airbyte connector image, run with `docker|podman run -i --rm` ($CONTAINER_ENGINE, "
        "else whichever answers) as this user, with the files directory mounted at its own path",
    )
    p.add_argument(
        "--network",
        default="bridge",
        help="the container network of --image (default: bridge; host reaches loopback servers)",
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
        "--manifest",
        metavar="PATH",
        help="a manifest-only (declarative) source's manifest.yaml: the runner after `--` "
        "(default: this environment's `source-declarative-manifest`) gets `--manifest-path`",
    )
    p.add_argument(
        "--components",
        metavar="PATH",
        help="the manifest's components.py (the runner gets `--components-path` and "
        f"{UNSAFE_CODE_ENV}=true)",
    )
    pip_env.add_arguments(p)
    return p


def main(argv: list[str]) -> None:
    """Parse `argv` (everything after `airbyte-capture`) and serve the capture protocol."""
    args, command = parse_capture_args(parser, argv)
    if args.components and not args.manifest:
        parser().error("--components needs --manifest")
    if args.manifest and (args.pip or args.python or args.constraint):
        parser().error("--pip, --python and --constraint do not apply with --manifest")
    if args.image and (command or args.manifest or args.pip):
        parser().error(
            "--image runs the image's own entry point: drop `-- <command>`, --manifest and --pip"
        )
    if args.image:
        try:
            command = image_command(args.image, _files_dir(args), args.network)
        except ConnectorError as exc:
            parser().error(str(exc))
    elif not args.manifest:
        command = pip_env.command_of(args, command)
    if args.manifest:
        delegate = _manifest_source(args, command)
    elif not command:
        parser().error("give the Airbyte connector command after `--`, e.g. -- source-faker")
    else:
        delegate = SubprocessSource(command, files_dir=args.files_dir)
    if args.docs_url:
        os.environ[DOCS_URL_ENV] = args.docs_url
    shim = CaptureShim(
        delegate=delegate,
        oauth2=_oauth2(args.oauth2) if args.oauth2 else None,
        usesSchemaInference=not args.no_schema_inference,
        discard_state=True if args.discard_state else None,
        sourced_schemas=args.sourced_schemas,
    )
    shim.main()


def _files_dir(args: argparse.Namespace) -> str:
    """--files-dir, else a private directory of this process, removed when it exits."""
    if not args.files_dir:
        args.files_dir = tempfile.mkdtemp(prefix="flow-sdk-airbyte-image-")
        atexit.register(shutil.rmtree, args.files_dir, True)
    return args.files_dir


def _manifest_source(args: argparse.Namespace, command: list[str]) -> SubprocessSource:
    """A declarative source run by the CDK's runner: its spec read from the manifest (the
    runner's `spec` is a generic one), the manifest (and components) passed to every other
    command."""
    env = None
    if args.components:
        if not os.path.isfile(args.components):
            parser().error(f"--components: {args.components!r} does not exist")
        env = dict(os.environ, **{UNSAFE_CODE_ENV: "true"})
    try:
        spec = manifest_spec(load_manifest(args.manifest), repr(args.manifest))
        runner = command or default_runner()
    except ConnectorError as exc:
        parser().error(str(exc))
    return SubprocessSource(
        runner,
        env=env,
        files_dir=args.files_dir,
        args=runner_args(args.manifest, args.components),
        spec=spec,
    )


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
