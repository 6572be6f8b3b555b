"""The text of the files `flow-sdk new` writes. Each is ruff-clean as written (the workspace
lints every file), and says in its docstring where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from flow_sdk.runtime.scaffold.plan import Plan


@dataclass(frozen=True)
class Wiring:
    """How the package's `__main__` runs the connector."""

    style: str
    """`native`, `inprocess` (a Source/Destination class), `script` (a console script as a
    subprocess), `manifest` or `singer`."""
    module: str = ""
    cls: str = ""
    script: str = ""


def render(text: str, **values: str) -> str:
    return Template(text).substitute(values)


def pyproject(plan: Plan) -> str:
    """Standard metadata, poetry-core, flow-sdk as the workspace's path dependency (and its
    uv/Poetry mirrors), as source-bigdata's."""
    extra = {"native": "", "singer": ""}.get(plan.origin.kind, "airbyte")
    flow_sdk = f"flow-sdk[{extra}]" if extra else "flow-sdk"
    deps = [flow_sdk]
    if plan.origin.kind == "manifest":
        deps.append("airbyte-cdk>=7,<8")
    uv_sources = ['flow-sdk = { path = "../python", editable = true }']
    extras = f', extras = ["{extra}"]' if extra else ""
    poetry = [f'flow-sdk = {{ path = "../python", develop = true{extras} }}']
    dep = plan.dependency
    if dep is not None:
        deps.append(dep.requirement)
        if dep.path is not None:
            uv_sources.append(f'{dep.name} = {{ path = "{dep.path}", editable = true }}')
            poetry.append(f'{dep.name} = {{ path = "{dep.path}", develop = true }}')
    kind = "capture" if plan.protocol == "capture" else "materialization"
    return render(
        PYPROJECT,
        name=plan.name,
        description=f"{origin_words(plan)} as an Estuary Flow {kind} (flow-sdk)",
        dependencies="".join(f'    "{d}",\n' for d in deps),
        uv_sources="\n".join(uv_sources),
        package=plan.package,
        poetry="\n".join(poetry),
    )


def origin_words(plan: Plan) -> str:
    origin = plan.origin
    if origin.kind == "native":
        return "A native connector"
    if origin.kind == "manifest":
        return "A manifest-only Airbyte source"
    what = "Airbyte source" if plan.protocol == "capture" else "Airbyte destination"
    if origin.kind == "singer":
        what = "Singer tap"
    assert plan.dependency is not None
    return f"The {what} {plan.dependency.name}"


PYPROJECT = """\
[project]
name = "$name"
version = "0.1.0"
description = "$description"
requires-python = ">=3.10,<3.14"
dependencies = [
$dependencies]

[tool.uv.sources]
$uv_sources

[tool.poetry]
packages = [{ include = "$package" }]

[tool.poetry.dependencies]
$poetry

[build-system]
requires = ["poetry-core>=2.0"]
build-backend = "poetry.core.masonry.api"
"""

ROOT_MAIN = '''\
"""`python -m $name` from the workspace root: the directory is importable as a namespace
package, and this runs the connector's Flow module (`$package`)."""

import runpy

if __name__ == "__main__":
    runpy.run_module("$package", run_name="__main__", alter_sys=True)
'''

PACKAGE_INIT = '''\
"""$name: $words, scaffolded by `flow-sdk new`."""
'''


def package_main(plan: Plan, wiring: Wiring) -> str:
    kind = "capture" if plan.protocol == "capture" else "materialization"
    shim = "CaptureShim" if plan.protocol == "capture" else "MaterializeShim"
    values = {"package": plan.package, "kind": kind, "shim": shim}
    if wiring.style == "native":
        module = "capture" if plan.protocol == "capture" else "materialization"
        return render(NATIVE_MAIN, **values, module=module, cls=native_class(plan))
    if wiring.style == "manifest":
        return manifest_main(plan)
    assert plan.dependency is not None
    values["dependency"] = plan.dependency.name
    if wiring.style == "inprocess":
        home = "flow_sdk.airbyte" if plan.protocol == "capture" else "flow_sdk.airbyte.destination.materialize"
        options = ", oauth2=None, usesSchemaInference=True" if plan.protocol == "capture" else ""
        return render(
            INPROCESS_MAIN,
            **values,
            module=wiring.module,
            cls=wiring.cls,
            home=home,
            options=options,
        )
    cli = {
        ("script", "capture"): "flow_sdk.airbyte.source.capture_cli",
        ("script", "materialize"): "flow_sdk.airbyte.destination.materialize_cli",
        ("singer", "capture"): "flow_sdk.singer.capture_cli",
    }[(wiring.style, plan.protocol)]
    shim_words = "Singer shim" if wiring.style == "singer" else f"Airbyte {shim}"
    return render(SCRIPT_MAIN, **values, cli=cli, script=wiring.script, shim_words=shim_words)


NATIVE_MAIN = '''\
"""`python -m $package`: the Flow $kind."""

from $package.$module import $cls


def main() -> None:
    $cls().main()


if __name__ == "__main__":
    main()
'''

INPROCESS_MAIN = '''\
"""`python -m $package`: the Flow $kind,
$dependency's `$cls` in process behind flow-sdk's $shim."""

from $home import $shim


def main() -> None:
    # Imported after flow-sdk's shim, which makes airbyte-cdk's own import ~0.9 s cheaper
    # when it comes first (flow_sdk.airbyte.attribute_docs).
    from $module import $cls

    $shim(delegate=$cls()$options).main()


if __name__ == "__main__":
    main()
'''

SCRIPT_MAIN = '''\
"""`python -m $package`: the Flow $kind,
$dependency's console script `$script` run as a subprocess by flow-sdk's
$shim_words (found beside this Python: the connector's own virtualenv)."""

import sys
from pathlib import Path

from $cli import main as shim


def main() -> None:
    shim(["--", str(Path(sys.executable).with_name("$script"))])


if __name__ == "__main__":
    main()
'''

MANIFEST_MAIN = '''\
"""`python -m $package`: the Flow capture, the manifest-only Airbyte source beside this
file (`manifest.yaml`$components_words) behind flow-sdk's CaptureShim, built anew for each
request so every session resumes from its state."""

from pathlib import Path

from flow_sdk.airbyte import CaptureShim

HERE = Path(__file__).parent


def main() -> None:
    CaptureShim.from_manifest($arguments, usesSchemaInference=True).main()


if __name__ == "__main__":
    main()
'''


def manifest_main(plan: Plan) -> str:
    if plan.origin.components is not None:
        arguments = 'HERE / "manifest.yaml", HERE / "components.py"'
        words = ", `components.py`"
    else:
        arguments = 'HERE / "manifest.yaml"'
        words = ""
    return render(
        MANIFEST_MAIN.replace("$arguments", arguments).replace("$components_words", words),
        package=plan.package,
    )


def native_class(plan: Plan) -> str:
    words = plan.name.split("-")[1:]
    suffix = "Capture" if plan.protocol == "capture" else "Materialization"
    return "".join(w.capitalize() for w in words) + suffix


NATIVE_CAPTURE = '''\
"""$name: a native Flow capture, scaffolded by `flow-sdk new`. Replace the `items` stream
with your source's streams; the hooks show what each request must answer.

Each binding names a stream and captures `config.count` documents `{id, message}`,
checkpointing every `config.every` documents with the next id under the binding's
`stateKey`, so a restarted session continues after the last committed document."""

from __future__ import annotations

from flow_sdk.capture import Connector, Emitter, ValidateError, request, response
from flow_sdk.protocol.flow import Spec, SpecRequest

STREAMS = ("items",)
CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "minimum": 0, "default": 10, "description": "Documents."},
        "every": {"type": "integer", "minimum": 1, "default": 5, "description": "Checkpoints."},
    },
    "required": ["count"],
}
RESOURCE_SCHEMA = {
    "type": "object",
    "properties": {"stream": {"type": "string"}},
    "required": ["stream"],
}
DOCUMENT_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "message": {"type": "string"}},
    "required": ["id", "message"],
}


class $cls(Connector):
    def spec(self, spec: SpecRequest) -> Spec:
        return Spec(
            configSchema=CONFIG_SCHEMA,
            resourceConfigSchema=RESOURCE_SCHEMA,
            documentationUrl="https://go.estuary.dev/$name",
            resourcePathPointers=["/stream"],
        )

    def discover(self, discover: request.Discover) -> response.Discovered:
        return response.Discovered(
            bindings=[
                response.DiscoveredBinding(
                    recommendedName=stream,
                    resourceConfig={"stream": stream},
                    documentSchema=DOCUMENT_SCHEMA,
                    key=["/id"],
                    resourcePath=[stream],
                )
                for stream in STREAMS
            ]
        )

    def validate(self, validate: request.Validate) -> response.Validated:
        for index, binding in enumerate(validate.bindings):
            if binding.resourceConfig["stream"] not in STREAMS:
                raise ValidateError(
                    f"binding {index} names stream {binding.resourceConfig['stream']!r}, "
                    f"which this endpoint does not offer (it offers: {', '.join(STREAMS)})"
                )
        return response.Validated(
            bindings=[
                response.ValidatedBinding(resourcePath=[b.resourceConfig["stream"]])
                for b in validate.bindings
            ]
        )

    def open(self, open: request.Open, emit: Emitter) -> None:
        config = open.capture.config
        count, every = config["count"], config.get("every", 5)
        emit.opened()
        state = (open.state or {}).get("bindingStateV1", {})
        for index, binding in enumerate(open.capture.bindings):
            start = state.get(binding.stateKey, {}).get("next", 0)
            for n in range(start, count):
                emit.captured(index, {"id": n, "message": f"item #{n}"})
                if (n + 1) % every == 0 or n + 1 == count:
                    emit.checkpoint({"bindingStateV1": {binding.stateKey: {"next": n + 1}}})
'''

NATIVE_MATERIALIZATION = '''\
"""$name: a native Flow materialization, scaffolded by `flow-sdk new`. Replace the JSON
lines files with your destination; the hooks show what each request must answer.

Each binding appends its documents to `<config.directory>/<resource.file>.jsonl` (delta
updates: nothing is loaded back), and a transaction's documents are written at its
`startCommit`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flow_sdk.materialize import Connector, ValidateError, request, response
from flow_sdk.protocol.flow import Spec, SpecRequest

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "directory": {
            "type": "string",
            "default": ".flow-data/$name",
            "description": "Where the JSON lines files are written.",
        }
    },
    "required": ["directory"],
}
RESOURCE_SCHEMA = {
    "type": "object",
    "properties": {"file": {"type": "string", "x-collection-name": True}},
    "required": ["file"],
}


class $cls(Connector):
    def spec(self, spec: SpecRequest) -> Spec:
        return Spec(
            configSchema=CONFIG_SCHEMA,
            resourceConfigSchema=RESOURCE_SCHEMA,
            documentationUrl="https://go.estuary.dev/$name",
        )

    def validate(self, validate: request.Validate) -> dict[str, Any]:
        if not validate.config.get("directory"):
            raise ValidateError("config.directory must name the directory to write into")
        bindings = []
        for binding in validate.bindings:
            constraints = {
                p.field: {"type": "LOCATION_REQUIRED" if p.isPrimaryKey else "FIELD_OPTIONAL"}
                for p in binding.collection.projections
            }
            bindings.append(
                {
                    "constraints": constraints,
                    "resourcePath": [binding.resourceConfig["file"]],
                    "deltaUpdates": True,
                }
            )
        return {"bindings": bindings}

    def open(self, open: request.Open) -> response.Opened:
        self.directory = Path(open.materialization.config["directory"])
        self.directory.mkdir(parents=True, exist_ok=True)
        self.files = [b.resourcePath[0] for b in open.materialization.bindings]
        self.pending: list[tuple[int, Any]] = []
        return response.Opened()

    def store(self, store: request.Store) -> None:
        self.pending.append((store.binding, store.doc))

    def start_commit(self, start_commit: request.StartCommit) -> response.StartedCommit:
        for binding, doc in self.pending:
            with open(self.directory / f"{self.files[binding]}.jsonl", "a") as out:
                out.write(json.dumps(doc) + "\\n")
        self.pending.clear()
        return response.StartedCommit()
'''


def native_module(plan: Plan) -> str:
    text = NATIVE_CAPTURE if plan.protocol == "capture" else NATIVE_MATERIALIZATION
    return render(text, name=plan.name, cls=native_class(plan))


def test_file(plan: Plan) -> str:
    text = CAPTURE_TEST if plan.protocol == "capture" else MATERIALIZATION_TEST
    return render(TEST_HEAD, name=plan.name, task=plan.task) + text


TEST_HEAD = '''\
"""$name's Flow face, driven by the local runtime from the workspace catalog as flowctl
would drive it (scaffolded by `flow-sdk new`; extend it with your connector's cases)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "test.flow.yaml"
BIN = Path(sys.executable).parent
TASK = "$task"

pytestmark = pytest.mark.slow


def flow_sdk(*args: str) -> list[Any]:
    """Run `flow-sdk ARGS --source test.flow.yaml` with this Python's scripts first on PATH;
    its JSON lines."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(BIN / "flow-sdk"), *args, "--source", str(CATALOG)],
        capture_output=True,
        timeout=300,
        cwd=REPO,
        env=env,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_spec() -> None:
    (spec,) = flow_sdk("raw", "spec", "--name", TASK)
    assert spec["protocol"] == 3032023
    assert isinstance(spec["configSchema"], dict) and spec["documentationUrl"]
'''

CAPTURE_TEST = """

def bindings() -> list[dict[str, Any]]:
    return yaml.safe_load(CATALOG.read_text())["captures"][TASK]["bindings"]


def test_the_catalog_matches_discovery() -> None:
    discovered = flow_sdk("raw", "discover", "--capture", TASK, "--emit-raw")
    assert discovered, "the connector discovered no bindings"
    assert [b["resource"] for b in bindings()] == [d["resourceConfig"] for d in discovered]


def test_validate() -> None:
    rows = flow_sdk("raw", "validate", "--name", TASK)
    assert [row["binding"] for row in rows] == list(range(len(bindings())))


def test_preview_captures_into_the_bound_collections() -> None:
    out = flow_sdk("preview", "--name", TASK, "--sessions", "1", "--timeout", "2m")
    targets = {b["target"] for b in bindings()}
    assert out, "the first transaction captured nothing"
    assert {name for name, _ in out} <= targets
"""

MATERIALIZATION_TEST = """

def bindings() -> list[dict[str, Any]]:
    return yaml.safe_load(CATALOG.read_text())["materializations"][TASK]["bindings"]


def test_validate() -> None:
    rows = flow_sdk("raw", "validate", "--name", TASK)
    assert len(rows) == len(bindings())
"""
