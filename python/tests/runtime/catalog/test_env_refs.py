"""`{"$env": NAME}` config values and `.env` files: resolved when a connector starts, never
written into the catalog, masked in the runtime's output (its connectors' logs and its error
line included), and a missing variable named with its config location."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from flow_sdk.runtime import masking
from flow_sdk.runtime.catalog.env_refs import read_env_file, resolve_env
from flow_sdk.runtime.errors import CatalogError

SECRET = "hunter2-s3cr3t"

# A capture that logs its password and refuses it: both must reach the user masked.
LEAKY = """
import sys
from flow_sdk.capture import Connector, request, response
from flow_sdk.errors import ValidateError
from flow_sdk.protocol.flow import Spec, SpecRequest

class Leaky(Connector):
    def spec(self, spec: SpecRequest) -> Spec:
        return Spec(
            configSchema={"type": "object", "properties": {"password": {"type": "string"}}},
            resourceConfigSchema={"type": "object"},
            documentationUrl="https://example.com/leaky",
            resourcePathPointers=["/name"],
        )

    def discover(self, discover: request.Discover) -> response.Discovered:
        self.log.info("discovering", extra={"password": discover.config["password"]})
        return response.Discovered(bindings=[])

    def validate(self, validate: request.Validate) -> response.Validated:
        print("plain text with " + validate.config["password"])
        raise ValidateError("cannot log in as admin:" + validate.config["password"])

    def open(self, open, emit) -> None:
        pass

if __name__ == "__main__":
    Leaky().main()
"""


@pytest.fixture(autouse=True)
def _forget_masks():  # noqa: ANN202
    yield
    masking.clear()


def leaky_catalog(directory: Path, config: object) -> Path:
    (directory / "leaky.py").write_text(LEAKY)
    path = directory / "leaky.flow.yaml"
    text = yaml.safe_dump(
        {
            "captures": {
                "acmeCo/leaky": {
                    "endpoint": {
                        "local": {
                            "command": [sys.executable, str(directory / "leaky.py")],
                            "config": config,
                        }
                    },
                    "bindings": [],
                }
            }
        },
        sort_keys=False,
    )
    path.write_text("# my catalog\n" + text)
    return path


def test_references_resolve_at_any_depth_from_environment_then_env_file(tmp_path: Path) -> None:
    catalog = tmp_path / "a.flow.yaml"
    (tmp_path / ".env").write_text(
        "# local secrets\nexport TOKEN='from file'\nUSER = \"ann\"\n\nHOST=db.local\n"
    )
    config = {
        "credentials": {"token": {"$env": "TOKEN"}, "user": {"$env": "USER"}},
        "hosts": [{"$env": "HOST"}, "static"],
        "port": 5432,
    }
    resolved = resolve_env(config, "a.flow.yaml: x.config", catalog, environ={"HOST": "db.prod"})
    assert resolved == {
        "credentials": {"token": "from file", "user": "ann"},
        "hosts": ["db.prod", "static"],
        "port": 5432,
    }
    assert config["credentials"]["token"] == {"$env": "TOKEN"}  # the catalog's value is untouched
    assert masking.mask("token=from file host=db.prod") == "token=*** host=***"


def test_missing_variable_names_it_and_the_config_location(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        resolve_env(
            {"creds": [{"key": {"$env": "API_KEY"}}]},
            "cat.flow.yaml: captures.x.endpoint.local.config",
            tmp_path / "cat.flow.yaml",
            environ={},
        )
    assert str(caught.value) == (
        "cat.flow.yaml: captures.x.endpoint.local.config at /creds/0/key refers to environment "
        f"variable API_KEY, which is not set in the environment or {tmp_path / '.env'}"
    )


def test_malformed_reference_and_env_file_are_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"at /a: an environment reference is an object"):
        resolve_env({"a": {"$env": "X", "default": 1}}, "here", None, environ={"X": "long"})
    (tmp_path / ".env").write_text("GOOD=1\nnot a line\n")
    with pytest.raises(CatalogError, match=r"\.env:2: expected `NAME=value`"):
        read_env_file(tmp_path / ".env")


def test_masks_cover_escaped_forms_and_skip_short_values() -> None:
    assert masking.register('p"ss\\word')
    assert not masking.register("abc")
    assert masking.mask('{"password":"p\\"ss\\\\word"} abc') == '{"password":"***"} abc'


def test_discover_masks_connector_logs_and_keeps_the_reference_in_the_catalog(
    tmp_path: Path, cli
) -> None:
    catalog = leaky_catalog(tmp_path, {"password": {"$env": "LEAKY_PASSWORD"}})
    before = catalog.read_text()
    result = cli("raw", "discover", "--source", str(catalog), env={"LEAKY_PASSWORD": SECRET})
    assert result.code == 0, result.stderr
    assert SECRET not in result.stderr
    assert "discovering password=***" in result.stderr
    assert catalog.read_text() == before, "the reference stays, and so does the comment"

    emitted = cli(
        "raw", "discover", "--source", str(catalog), "--emit-raw", "--log-json",
        env={"LEAKY_PASSWORD": SECRET},
    )  # fmt: skip
    assert emitted.code == 0, emitted.stderr
    assert SECRET not in emitted.stderr and '"password":"***"' in emitted.stderr


def test_validate_failure_is_masked_and_env_file_is_read(tmp_path: Path, cli) -> None:
    catalog = leaky_catalog(tmp_path, {"password": {"$env": "LEAKY_PASSWORD"}})
    (tmp_path / ".env").write_text(f"LEAKY_PASSWORD={SECRET}\n")
    result = cli("raw", "validate", "--source", str(catalog), env={"LEAKY_PASSWORD": ""})
    # an empty variable in the environment still wins over the file
    assert "as admin:" in result.last_error and SECRET not in result.stderr
    result = cli("raw", "validate", "--source", str(catalog))
    assert result.code == 1
    assert SECRET not in result.stderr
    assert "plain text with ***" in result.stderr
    assert result.last_error.endswith("cannot log in as admin:***"), result.last_error


def test_reference_in_a_referenced_config_file_and_missing_variable_cli(
    tmp_path: Path, cli
) -> None:
    (tmp_path / "leaky.config.yaml").write_text("password: {$env: LEAKY_PASSWORD}\n")
    catalog = leaky_catalog(tmp_path, "leaky.config.yaml")
    result = cli("raw", "discover", "--source", str(catalog), env={"FLOW_SDK_ENV_FILE": ""})
    assert result.code == 1
    assert result.last_error == (
        f"flow-sdk: error: {catalog}: captures.acmeCo/leaky.endpoint.local.config "
        f"(file {tmp_path / 'leaky.config.yaml'}) at /password refers to environment variable "
        f"LEAKY_PASSWORD, which is not set in the environment or {tmp_path / '.env'}"
    )
    result = cli("raw", "discover", "--source", str(catalog), env={"LEAKY_PASSWORD": SECRET})
    assert result.code == 0, result.stderr
    assert SECRET not in result.stderr
