"""Manifest-only (declarative) Airbyte sources: `manifest_source/manifest.yaml` (an
incremental `DatetimeBasedCursor` stream) plus its `components.py` (a custom transformation),
reading a JSON API served on loopback by `items_api.py`.

Four ways of running it, each over the Flow protocol: in process behind
`CaptureShim.from_manifest` on airbyte-cdk 7 (the workspace) and 6 (a cached virtualenv), and
as a subprocess through `flow-sdk airbyte-capture --manifest ... --components ...` with the
default runner (this environment's `source-declarative-manifest`, CDK 7) and with CDK 6's
runner given after `--`. The declarative source takes its state in its constructor, so a
resumed session emitting only the newer items shows the state reached it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_shim_process import HERE, PYTHON, binding, open_request, run_connector
from cached_venv import ROOT, cached_venv

from flow_sdk.airbyte import CaptureShim
from flow_sdk.airbyte.source.manifest import UNSAFE_CODE_ENV, load_manifest, manifest_spec
from flow_sdk.capture import request
from flow_sdk.errors import ConnectorError
from flow_sdk.protocol.flow import SpecRequest

sys.path.insert(0, str(HERE.parent / "connectors" / "manifest_source"))
from items_api import API_KEY, ItemsApi  # noqa: E402
from oauth_servers import EncryptionService, serving

pytestmark = pytest.mark.slow
MANIFEST = HERE.parent / "connectors" / "manifest_source" / "manifest.yaml"
COMPONENTS = HERE.parent / "connectors" / "manifest_source" / "components.py"
CLI = [PYTHON, "-m", "flow_sdk.airbyte.source.capture_cli"]
WRAP = [*CLI, "--manifest", str(MANIFEST), "--components", str(COMPONENTS)]
MODES = ["cdk7-inprocess", "cdk6-inprocess", "cdk7-subprocess", "cdk6-subprocess"]
ITEMS = binding("items", "incremental", cursor=["updated_at"])
START = "2024-01-01T00:00:00Z"


def item(n: int, updated_at: str) -> dict[str, Any]:
    return {"id": n, "name": f"item {n}", "updated_at": updated_at}


@pytest.fixture(scope="session")
def cdk6_python() -> Path:
    return cached_venv("airbyte-cdk6", ["airbyte-cdk==6.*", f"-e {ROOT / 'python'}"])


@pytest.fixture(params=MODES)
def shim(request: pytest.FixtureRequest) -> list[str]:
    cdk, mode = request.param.split("-")
    if mode == "inprocess":
        python = PYTHON if cdk == "cdk7" else str(request.getfixturevalue("cdk6_python"))
        return [python, str(HERE / "manifest_main.py")]
    if cdk == "cdk7":
        return WRAP  # the default runner
    runner = request.getfixturevalue("cdk6_python").with_name("source-declarative-manifest")
    return [*WRAP, "--", str(runner)]


@pytest.fixture
def api() -> Iterator[ItemsApi]:
    with ItemsApi([item(1, "2024-01-02T00:00:00Z"), item(2, "2024-01-03T00:00:00Z")]) as api:
        yield api


def config(api: ItemsApi, key: str = API_KEY) -> dict[str, Any]:
    return {"api_url": api.url, "api_key": key, "start_date": START}


def test_spec_discover_validate(shim: list[str], api: ItemsApi) -> None:
    assert UNSAFE_CODE_ENV not in os.environ  # the CLI itself must allow components.py
    validate = {
        "validate": {
            "name": "acmeCo/cap",
            "config": config(api),
            "bindings": [
                {"resourceConfig": ITEMS["resourceConfig"], "collection": ITEMS["collection"]}
            ],
        }
    }
    run = run_connector(shim, [{"spec": {}}, {"discover": {"config": config(api)}}, validate])
    assert run.code == 0, run.stderr[-3000:]
    spec, discovered, validated = (r[next(iter(r))] for r in run.responses)
    # the manifest's own spec, also through the runner, whose `spec` is a generic one
    assert spec["documentationUrl"] == "https://example.com/items-api"
    assert spec["configSchema"]["title"] == "Items API"
    assert spec["configSchema"]["properties"]["api_key"]["secret"] is True
    [items] = discovered["bindings"]
    assert items["recommendedName"] == "items"
    assert items["resourceConfig"] == ITEMS["resourceConfig"]
    assert items["key"] == ["/id"]
    assert set(items["documentSchema"]["properties"]) >= {"id", "name", "updated_at", "shout"}
    assert validated == {"bindings": [{"resourcePath": ["items"]}]}
    assert API_KEY not in run.stderr


def test_incremental_resume(shim: list[str], api: ItemsApi) -> None:
    first = run_connector(shim, [open_request(config(api), [ITEMS])])
    assert first.code == 0, first.stderr[-3000:]
    assert [(d["id"], d["shout"], d["_meta"]["row_id"]) for d in first.docs()] == [
        (1, "ITEM 1!", 0),  # `shout` comes from components.py
        (2, "ITEM 2!", 1),
    ]
    state = first.reduced_state()
    assert state["bindingStateV1"]["items"] == {
        "rowId": 2,
        "stream": [
            {
                "stream_descriptor": {"name": "items"},
                "stream_state": {"updated_at": "2024-01-03T00:00:00Z"},
            }
        ],
    }
    assert API_KEY not in first.stderr

    api.items.append(item(3, "2024-02-01T00:00:00Z"))
    second = run_connector(shim, [open_request(config(api), [ITEMS], state)])
    assert second.code == 0, second.stderr[-3000:]
    assert [(d["id"], d["_meta"]["row_id"]) for d in second.docs()] == [(3, 2)]
    assert [r["since"] for r in api.requests] == [START, "2024-01-03T00:00:00Z"]
    after = second.reduced_state(state)["bindingStateV1"]["items"]
    assert after["rowId"] == 3
    assert after["stream"][0]["stream_state"] == {"updated_at": "2024-02-01T00:00:00Z"}


def test_refused_api_key_fails_validate(shim: list[str], api: ItemsApi) -> None:
    validate = {"validate": {"name": "acmeCo/cap", "config": config(api, "wrong-key")}}
    run = run_connector(shim, [validate])
    assert run.code != 0
    assert run.last_error.startswith("the source's connection check failed:"), run.stderr[-2000:]
    assert "401" in run.last_error or "nauthorized" in run.last_error


def test_from_manifest_dict_in_this_process() -> None:
    """A manifest given as a dict (here without the custom component): spec and discover
    through the shim, each building its own declarative source."""
    manifest = load_manifest(MANIFEST)
    del manifest["streams"][0]["transformations"]
    shim = CaptureShim.from_manifest(manifest)
    assert shim.delegate.name == "Items API"
    spec = shim.spec(SpecRequest())
    assert spec.documentationUrl == "https://example.com/items-api"
    discovered = shim.discover(
        request.Discover(
            config={"api_url": "http://127.0.0.1:9", "api_key": "k", "start_date": START}
        )
    )
    [items] = discovered.bindings
    assert items.resourceConfig == ITEMS["resourceConfig"]
    assert items.key == ["/id"]


def test_shim_takes_a_delegate_or_a_factory() -> None:
    with pytest.raises(TypeError, match="either a delegate or a source_factory"):
        CaptureShim()
    with pytest.raises(TypeError, match="either a delegate or a source_factory"):
        CaptureShim(delegate=object(), source_factory=lambda config, catalog, state: None)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--components", str(COMPONENTS)], "--components needs --manifest"),
        (["--manifest", "/nonexistent/manifest.yaml"], "cannot read the manifest"),
        (["--manifest", str(COMPONENTS)], "components.py' is not YAML: "),
        (["--manifest", "{list}"], "must be a YAML mapping, not list"),
        (["--manifest", str(MANIFEST), "--components", "/nonexistent.py"], "does not exist"),
    ],
)
def test_cli_refuses_bad_manifest_arguments(args: list[str], error: str, tmp_path: Path) -> None:
    listed = tmp_path / "list.yaml"
    listed.write_text("- streams\n")
    args = [str(listed) if a == "{list}" else a for a in args]
    run = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert error in run.stderr.strip().splitlines()[-1]


def test_config_migration_at_construction_is_a_config_update(tmp_path: Path) -> None:
    """A manifest's config migration runs in the declarative source's constructor, which
    prints the migrated config as a CONTROL message: built by the shim, that message becomes a
    configUpdate event (its secrets masked), never a log line of text."""
    manifest = load_manifest(MANIFEST)
    del manifest["streams"][0]["transformations"]
    manifest["spec"]["config_normalization_rules"] = {
        "type": "ConfigNormalizationRules",
        "config_migrations": [
            {
                "type": "ConfigMigration",
                "description": "the API moved to regions",
                "transformations": [
                    {
                        "type": "ConfigAddFields",
                        "fields": [
                            {"type": "AddedFieldDefinition", "path": ["region"], "value": "eu"}
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest))
    main = "import sys; from flow_sdk.airbyte import CaptureShim; CaptureShim.from_manifest(sys.argv[1]).main()"
    cfg = {"api_url": "http://127.0.0.1:9", "api_key": API_KEY, "start_date": START}
    service = EncryptionService()
    with serving(service) as url:
        env = {"ENCRYPTION_URL": f"{url}/v1/encrypt-config"}
        run = run_connector(
            [PYTHON, "-c", main, str(path)], [{"discover": {"config": cfg}}], env=env
        )
    assert run.code == 0, run.stderr[-3000:]
    updates = [log for log in run.logs if log.get("fields", {}).get("eventType") == "configUpdate"]
    assert len(updates) == 1, run.stderr[-3000:]
    assert [r["config"]["region"] for r in service.requests] == ["eu"], "sealed, migrated"
    assert API_KEY not in run.stderr
    assert '"CONTROL"' not in run.stderr


def test_spec_from_the_manifest_equals_the_cdks() -> None:
    """Subprocess mode reads the spec from the manifest itself; it is the one the CDK's
    declarative source gives in process."""
    inprocess = run_connector([PYTHON, str(HERE / "manifest_main.py")], [{"spec": {}}])
    subprocess_ = run_connector(WRAP, [{"spec": {}}])
    assert inprocess.code == 0 and subprocess_.code == 0, inprocess.stderr + subprocess_.stderr
    assert inprocess.responses == subprocess_.responses


def test_source_factory_is_called_per_request_with_its_inputs() -> None:
    """Spec builds from nothing, Discover and Validate from the config, Open from the config,
    the CDK's catalog and its state messages."""
    cfg = {"count": 2, "every": 1}
    users = binding("users", "incremental", cursor=["updated_at"])
    argv = [PYTHON, str(HERE / "factory_main.py")]
    validate = {
        "validate": {
            "name": "acmeCo/cap",
            "config": cfg,
            "bindings": [
                {"resourceConfig": users["resourceConfig"], "collection": users["collection"]}
            ],
        }
    }
    unary = run_connector(argv, [{"spec": {}}, {"discover": {"config": cfg}}, validate])
    assert unary.code == 0, unary.stderr[-3000:]
    first = run_connector(argv, [open_request(cfg, [users])])
    assert [d["id"] for d in first.docs()] == [1, 2]
    resumed = run_connector(
        argv, [open_request(dict(cfg, count=3), [users], first.reduced_state())]
    )
    assert [d["id"] for d in resumed.docs()] == [3]

    def builds(run: Any) -> list[tuple[Any, Any, Any]]:
        return [
            (log["fields"]["config"], log["fields"]["catalog"], log["fields"]["state"])
            for log in run.logs
            if log.get("msg") == "factory"
        ]

    config_keys = ["count", "every"]
    assert builds(unary) == [
        (None, None, None),  # spec
        (config_keys, None, None),  # discover
        (config_keys, None, None),  # validate: check
        (config_keys, None, None),  # validate: discover
    ]
    assert builds(first) == [(None, None, None), (config_keys, ["users"], None)]
    assert builds(resumed)[1] == (config_keys, ["users"], ["AirbyteStateMessage"])


def test_manifest_spec_resolves_references() -> None:
    """A spec may point into `definitions` (strings `#/...` and `$ref` objects), as the CDK
    resolves them; a missing or cyclic reference is an error naming it."""
    manifest = {
        "definitions": {
            "key": {"type": "string", "airbyte_secret": True},
            "base": {"type": "object", "title": "Base"},
            "docs": "https://example.com/refs",
            "loop": "#/definitions/loop",
        },
        "spec": {
            "type": "Spec",
            "documentation_url": "#/definitions/docs",
            "connection_specification": {
                "$ref": "#/definitions/base",
                "title": "Mine",
                "properties": {"api_key": "#/definitions/key"},
            },
        },
    }
    assert manifest_spec(manifest, "m") == {
        "documentationUrl": "https://example.com/refs",
        "connectionSpecification": {
            "type": "object",
            "title": "Mine",
            "properties": {"api_key": {"type": "string", "airbyte_secret": True}},
        },
    }
    manifest["spec"]["documentation_url"] = "#/definitions/nowhere"
    with pytest.raises(ConnectorError, match="refers to '#/definitions/nowhere', which it lacks"):
        manifest_spec(manifest, "m")
    manifest["spec"]["documentation_url"] = "#/definitions/loop"
    with pytest.raises(ConnectorError, match="refers to '#/definitions/loop' in a cycle"):
        manifest_spec(manifest, "m")
