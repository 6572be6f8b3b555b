"""The `flow-sdk` command: flowctl's connector-development commands, offline.

`raw spec | discover | validate` (spec and validate of any kind of task), `new` (scaffold a
connector into the workspace), `preview` (and its
older spelling `raw capture`) drive a connector through the local runtime, `run` is the
local data plane (captures into local collections, then materializations);
`airbyte-capture` and `airbyte-materialize` hand their arguments to the Airbyte adapters.
The work lives in `flow_sdk.runtime`; this module only parses flags, prints results on
stdout, and turns failures into one-line errors.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import orjson

PASSTHROUGH = {
    "airbyte-capture": "flow_sdk.airbyte.source.capture_cli",
    "airbyte-materialize": "flow_sdk.airbyte.destination.materialize_cli",
    "singer-capture": "flow_sdk.singer.capture_cli",
}


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `flow-sdk` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in PASSTHROUGH:
        _passthrough(args_list[0], args_list[1:])
        return
    args = _parser().parse_args(_join_negative_values(args_list))
    debug = args.debug or os.environ.get("LOG_LEVEL", "").lower() in ("debug", "trace")
    sys.exit(_run(args.handler, args, debug))


def _run(
    handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace, debug: bool
) -> int:
    _require_runtime_jsonschema()
    from flow_sdk.runtime.errors import RuntimeFailure

    try:
        return handler(args) or 0
    except RuntimeFailure as exc:
        if debug:
            traceback.print_exc()
        _error(str(exc), json_line=getattr(args, "log_json", False))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        return 1


def _require_runtime_jsonschema() -> None:
    """The runtime validates with JSON Schema 2020-12 (jsonschema>=4.18); flow-sdk allows an
    older jsonschema so that airbyte-cdk 2.x-5.x sources, which pin 3.2, run in process
    beside it. Such an environment can run connectors, not the runtime: say so."""
    import jsonschema

    if not hasattr(jsonschema, "Draft202012Validator"):
        from importlib.metadata import version

        _error(
            f"the flow-sdk local runtime needs jsonschema>=4.18, and this environment has "
            f"{version('jsonschema')} (airbyte-cdk 2.x-5.x pin 3.2): run `flow-sdk` from another "
            f"virtualenv, with this one's connector as the catalog's command"
        )
        sys.exit(2)


def _join_negative_values(argv: list[str]) -> list[str]:
    """`--sessions -1,2` as `--sessions=-1,2`: argparse would take `-1,2` for a flag."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in ("--sessions", "--initial-state"):
            value = next(args, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


def _error(message: str, json_line: bool = False) -> None:
    from flow_sdk.runtime.masking import mask

    message = mask(message)
    sys.stderr.flush()
    if json_line:
        from flow_sdk.runtime.console import LogRecord, as_json

        sys.stderr.write(as_json(LogRecord(level="error", message=message), "flow-sdk") + "\n")
    else:
        sys.stderr.write(f"flow-sdk: error: {message}\n")
    sys.stderr.flush()


def _passthrough(command: str, argv: list[str]) -> None:
    module_name = PASSTHROUGH[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            _error(
                f"`flow-sdk {command}` is not available: this flow-sdk has no {module_name} "
                "(install a flow-sdk release that includes the Airbyte adapters, `flow-sdk[airbyte]`)"
            )
            sys.exit(2)
        raise
    module.main(argv)


# ---- commands ----


def _write_line(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE))
    sys.stdout.buffer.flush()


def _console(args: argparse.Namespace | None = None) -> Any:
    from flow_sdk.runtime.console import Console

    return Console(json_logs=bool(getattr(args, "log_json", False)))


def _cmd_spec(args: argparse.Namespace) -> int:
    from flow_sdk.runtime.raw import raw_spec

    spec = raw_spec(
        args.source, args.name, _console(args), args.network, capture_name=args.capture
    ).to_wire()
    _write_line({"protocol": spec.pop("protocol"), **spec})
    return 0


def _cmd_discover(args: argparse.Namespace) -> int:
    from flow_sdk.runtime.raw import raw_discover

    console = _console(args)
    catalog, task, discovered, pointers = raw_discover(
        args.source, args.capture, console, args.network
    )
    if args.emit_raw:
        for binding in discovered.bindings:
            _write_line(binding.to_wire())
        return 0
    from flow_sdk.runtime.catalog.discover_write import write_discovered

    written = write_discovered(catalog, task, discovered, console, pointers)
    console.line(f"Wrote {written.count} specifications under {written.directory}.")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from flow_sdk.runtime.raw import raw_validate

    rows = raw_validate(
        args.source, args.name, _console(args), args.network, capture_name=args.capture
    )
    for row in rows:
        _write_line(row)
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from flow_sdk.runtime.catalog.generate import generate

    console = _console(args)
    written = generate(args.source, console, args.network)
    if not written:
        console.line("every config file the catalog references exists; nothing to generate")
    for path in written:
        console.line(f"wrote a stub config: {path}")
    return 0


def _cmd_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flow_sdk.runtime.scaffold import Origin, make_plan, new_connector

    if args.airbyte or args.singer:
        kind = "airbyte" if args.airbyte else "singer"
        given = args.airbyte or args.singer
        local = Path(given).expanduser()
        path = local.resolve() if local.is_dir() else None
        origin = Origin(kind, requirement=given, path=path)
    elif args.manifest:
        origin = Origin(
            "manifest",
            path=Path(args.manifest).resolve(),
            components=Path(args.components).resolve() if args.components else None,
        )
    else:
        origin = Origin("native")
    if args.components and not args.manifest:
        origin = Origin(origin.kind, origin.requirement, origin.path, Path(args.components))
    plan = make_plan(args.directory, origin, config=args.config, prefix=args.prefix)
    new_connector(plan, _console(args), discover=not args.no_discover)
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from flow_sdk.runtime.capture.preview import preview_capture
    from flow_sdk.runtime.catalog.load import MaterializationDef, load_catalog
    from flow_sdk.runtime.errors import RuntimeFailure
    from flow_sdk.runtime.preview import PreviewOptions

    name = getattr(args, "name", None) or getattr(args, "capture", None)
    console = _console(args)
    options = PreviewOptions.from_flags(
        sessions=args.sessions,
        delay=args.delay,
        timeout=args.timeout,
        idle_timeout=args.idle_timeout,
        initial_state=args.initial_state,
        output_state=args.output_state,
        output_apply=args.output_apply,
        max_interval=args.max_interval,
        progress=args.progress,
        network=args.network,
    )
    catalog = load_catalog(args.source)
    from flow_sdk.runtime.derive.catalog import derivation_named

    if (derivation := derivation_named(catalog, name)) is not None:
        from flow_sdk.runtime.derive.preview import preview_derivation

        preview_derivation(
            catalog,
            derivation,
            args.fixture,
            sys.stdout.buffer,
            initial_state=options.initial_state,
            output_state=options.output_state,
            network=options.network,
            console=console,
        )
        return 0
    task = catalog.task(name)
    if isinstance(task, MaterializationDef):
        try:
            module = importlib.import_module("flow_sdk.runtime.materialize.preview")
        except ModuleNotFoundError:
            raise RuntimeFailure(
                f"{task.name!r} is a materialization, and this flow-sdk cannot preview "
                "materializations yet; preview a capture instead"
            ) from None
        return (
            module.preview_materialization(
                catalog, task, options, fixture=args.fixture, console=console
            )
            or 0
        )
    preview_capture(catalog, task, options, output=sys.stdout.buffer, console=console)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flow_sdk.runtime.durations import flag_duration
    from flow_sdk.runtime.run import RunOptions, run

    options = RunOptions(
        data_dir=Path(args.data_dir),
        timeout=flag_duration("--timeout", args.timeout),
        idle_timeout=flag_duration("--idle-timeout", args.idle_timeout),
        progress=args.progress,
        follow=args.follow,
        network=args.network,
    )
    if args.transaction_documents is not None:
        options.transaction_documents = args.transaction_documents
    console = _console(args)
    summary = run(args.source, options, console)
    for line in summary.lines(options.data_dir):
        console.line(line)
    return 0


# ---- flags ----


def _parser() -> argparse.ArgumentParser:
    common = _common_flags()
    parser = argparse.ArgumentParser(
        prog="flow-sdk",
        description="Develop Estuary Flow connectors offline, with flowctl's commands.",
        epilog="Also: `flow-sdk airbyte-capture -- <source>`, `flow-sdk airbyte-materialize -- <destination>` "
        "and `flow-sdk singer-capture -- <tap>`.",
    )
    parser.set_defaults(debug=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _raw_parsers(commands, common)
    generate = commands.add_parser(
        "generate",
        parents=[common],
        help="write stub files for the catalog's missing endpoint and resource configs",
    )
    generate.set_defaults(handler=_cmd_generate)
    _new_parser(commands)
    preview = commands.add_parser(
        "preview", parents=[common], help="run a task's sessions and print its documents"
    )
    preview.add_argument("--name", help="task name (needed when there are several)")
    _preview_flags(preview)
    _run_parser(commands, common)
    return parser


def _common_flags() -> argparse.ArgumentParser:
    """The flags every catalog command takes (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--source", required=True, help="catalog file (e.g. test.flow.yaml)")
    common.add_argument(
        "--network",
        default="bridge",
        help="container network of image connectors (docker/podman run --network; host reaches loopback servers)",
    )
    common.add_argument(
        "-o",
        "--output",
        choices=["json", "yaml", "table"],
        help="accepted for flowctl compatibility; output is JSON lines",
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    common.add_argument(
        "--log-json",
        action="store_true",
        help="logs on stderr as JSON lines (ts, level, message, fields, source), not text",
    )
    return common


def _raw_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`flow-sdk raw spec|discover|validate|capture`."""
    raw = commands.add_parser("raw", help="run one connector request")
    raw_commands = raw.add_subparsers(dest="raw_command", required=True, metavar="RAW_COMMAND")

    spec = raw_commands.add_parser("spec", parents=[common], help="print the connector's Spec")
    _task_flags(spec)
    spec.set_defaults(handler=_cmd_spec)

    discover = raw_commands.add_parser(
        "discover", parents=[common], help="discover bindings and write them into the catalog"
    )
    discover.add_argument("--capture", help="capture name (needed when there are several)")
    discover.add_argument(
        "--emit-raw",
        action="store_true",
        help="print each discovered binding as a JSON line instead",
    )
    discover.add_argument("--flat", action="store_true", help="accepted for flowctl compatibility")
    discover.set_defaults(handler=_cmd_discover)

    validate = raw_commands.add_parser(
        "validate",
        parents=[common],
        help="check Flow's catalog rules, validate a task and print each binding "
        "(a capture's stateKey, a materialization's constraints)",
    )
    _task_flags(validate)
    validate.set_defaults(handler=_cmd_validate)

    capture = raw_commands.add_parser(
        "capture", parents=[common], help="the older name of `preview` for captures"
    )
    capture.add_argument("--capture", help="capture name (needed when there are several)")
    _preview_flags(capture)


def _new_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`flow-sdk new DIR --native|--airbyte|--manifest|--singer`."""
    new = commands.add_parser(
        "new",
        help="scaffold a connector in the workspace: directory, pyproject, entry point, "
        "catalog entry (discovered), CI matrix entry, workspace dependency and lock, tests",
        description="Scaffold DIR (source-*: a capture; destination-* or materialize-*: a "
        "materialization) in the connectors workspace that contains it. Refuses when anything "
        "it would create exists, and says every file it created or changed.",
    )
    new.add_argument("directory", metavar="DIR", help="e.g. source-hello, at the workspace root")
    origin = new.add_mutually_exclusive_group(required=True)
    origin.add_argument("--native", action="store_true", help="a native Flow connector skeleton")
    origin.add_argument(
        "--airbyte",
        metavar="REQ",
        help="an Airbyte source or destination package: a PyPI requirement "
        "('airbyte-source-faker==7.2.1'), 'NAME @ git+https://...#subdirectory=...', or a "
        "local package directory",
    )
    origin.add_argument(
        "--manifest", metavar="FILE", help="a manifest-only Airbyte source's manifest.yaml"
    )
    origin.add_argument(
        "--singer", metavar="REQ", help="a Singer tap package (requirement or directory)"
    )
    new.add_argument("--components", metavar="FILE", help="the manifest's components.py")
    new.add_argument(
        "--config",
        metavar="FILE",
        help="the endpoint config the catalog uses (default: a stub DIR/config.yaml written "
        "from the connector's Spec)",
    )
    new.add_argument(
        "--prefix",
        help="catalog name prefix of the task and its collections (default: "
        "<tenant>/<DIR without source-/destination-/materialize->)",
    )
    new.add_argument(
        "--no-discover", action="store_true", help="leave the capture's bindings empty"
    )
    new.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    new.set_defaults(handler=_cmd_new)


def _at_least_one(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _run_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`flow-sdk run`."""
    run = commands.add_parser(
        "run",
        parents=[common],
        help="capture into local collections, then materialize them (continues incrementally)",
    )
    run.add_argument(
        "--data-dir",
        default=".flow-data",
        help="collection journals and task state (default: %(default)s)",
    )
    _timeout_flags(run, "capture")
    run.add_argument(
        "--transaction-documents",
        type=_at_least_one,
        metavar="N",
        help="documents per materialization transaction at most (default: 20,000, and at "
        "most 16 MiB of journal)",
    )
    run.add_argument(
        "--follow",
        action="store_true",
        help="materializations store each capture commit as it lands, as Flow's runtime "
        "does (default: while the captures run they store only the transactions a pass "
        "after the captures would make, the rest when they end)",
    )
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars on stderr (default: when stderr is a terminal)",
    )
    run.set_defaults(handler=_cmd_run)


def _task_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name",
        help="task name: a capture, materialization or derivation (needed when there are several)",
    )
    parser.add_argument("--capture", help="capture name (the older flag; --name names any task)")


def _timeout_flags(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--timeout",
        help=f"total {what} time, e.g. 5m: sessions stop gracefully when it elapses "
        "(flowctl's meaning; the idle meaning is now --idle-timeout)",
    )
    parser.add_argument(
        "--idle-timeout", help="end a capture session when no data arrives for this long, e.g. 30s"
    )


def _preview_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sessions", help="transactions per session, e.g. 2,1,-1 (negative: unlimited)"
    )
    parser.add_argument("--delay", help="sleep before each transaction, e.g. 10s")
    _timeout_flags(parser, "preview")
    parser.add_argument("--initial-state", help="connector state (JSON) for the first session")
    parser.add_argument(
        "--output-state", action="store_true", help='print ["connectorState", ...] lines'
    )
    parser.add_argument(
        "--output-apply", action="store_true", help='print ["applied.actionDescription", ...] lines'
    )
    parser.add_argument(
        "--fixture",
        help='materializations and derivations: JSON lines of ["<collection>", {doc}] and '
        '{"commit": true}, or a JSON array of transactions; a FIFO or - (stdin) streams',
    )
    parser.add_argument(
        "--max-interval", help="cap the wait for intervalSeconds between sessions, e.g. 5s"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    parser.set_defaults(handler=_cmd_preview)


if __name__ == "__main__":
    main()
