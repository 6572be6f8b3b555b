"""The local runtime applies a source's config updates itself, as Flow republishes a task:
`flow-sdk run` keeps the updated config in its data directory for the next run, and
`flow-sdk preview` for its next session, so a source with single-use refresh tokens keeps
working offline (no config-encryption endpoint anywhere)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from airbyte_shim_process import HERE, PYTHON
from oauth_servers import TokenApi, serving

from flow_sdk.airbyte.source.config_update import STATE_KEY

ROTATING = str(HERE / "rotating_source.py")
TASK = "acmeCo/rotating"
CLIENT_SECRET = "client-secret-0123456789"


@pytest.fixture
def api() -> Iterator[tuple[TokenApi, str]]:
    token_api = TokenApi()
    with serving(token_api) as url:
        yield token_api, url


def write_catalog(
    path: Path,
    command: list[str],
    api_url: str,
    refresh_token: str | dict[str, str],
    check_api: bool = False,
    client_secret: str | dict[str, str] = CLIENT_SECRET,
) -> Path:
    catalog = {
        "captures": {
            TASK: {
                "endpoint": {
                    "local": {
                        "command": command,
                        "config": {
                            "api_url": api_url,
                            "check_api": check_api,
                            "credentials": {
                                "client_id": "client-1",
                                "client_secret": client_secret,
                                "refresh_token": refresh_token,
                            },
                        },
                    }
                },
                "bindings": [
                    {
                        "resource": {"stream": "items", "syncMode": "full_refresh"},
                        "target": "acmeCo/items",
                    }
                ],
                "interval": "1s",
            }
        },
        "collections": {
            "acmeCo/items": {
                "schema": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                    "required": ["id"],
                },
                "key": ["/id"],
            }
        },
    }
    path.write_text(yaml.safe_dump(catalog))
    return path


def flow_sdk(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ENCRYPTION_URL"}  # offline
    env.update(extra_env)
    env["PYTHONPATH"] = str(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "flow_sdk.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


def test_run_keeps_the_updated_config_in_its_data_directory(
    tmp_path: Path, api: tuple[TokenApi, str]
) -> None:
    token_api, url = api
    catalog = write_catalog(
        tmp_path / "rotating.flow.yaml", [PYTHON, ROTATING, "--shim"], url, token_api.refresh_token
    )
    data = tmp_path / "data"
    run = ["run", "--source", str(catalog), "--data-dir", str(data)]

    first = flow_sdk(*run)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(token_api.issued) == 1 and token_api.refused == []
    stored_path = data / "configs" / "acmeCo" / "rotating.json"
    assert stat.S_IMODE(stored_path.stat().st_mode) == 0o600
    stored = orjson.loads(stored_path.read_bytes())["config"]
    assert stored["credentials"]["refresh_token"] == token_api.issued[0]
    assert stored["credentials"]["client_secret"] == CLIENT_SECRET, "the whole config is kept"
    assert "applied the connector's config update" in first.stderr
    assert "the local runtime keeps it for the next session" in first.stderr

    # The next run opens with the stored config: the overlay in state is not needed (and is
    # dropped), and the server never sees a reused refresh token.
    second = flow_sdk(*run)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "using the endpoint config the connector updated in an earlier run" in second.stderr
    assert "laid 1 secret(s)" not in second.stderr
    assert token_api.refused == [] and len(token_api.issued) == 2

    # Even with the connector state's overlay gone, the stored config carries the token.
    state_path = data / "captures" / "acmeCo" / "rotating.json"
    saved = orjson.loads(state_path.read_bytes())
    saved["connectorState"].pop(STATE_KEY, None)
    state_path.write_bytes(orjson.dumps(saved))
    third = flow_sdk(*run)
    assert third.returncode == 0, third.stderr[-3000:]
    assert token_api.refused == [] and len(token_api.issued) == 3
    documents = (data / "collections" / "acmeCo" / "items.jsonl").read_text()
    for output in (first, second, third):
        for token in token_api.issued:
            assert token not in output.stdout + output.stderr
    assert CLIENT_SECRET not in documents and token_api.issued[0] not in documents

    # A fresh OAuth login edits the catalog's config: that config wins over the stored one.
    token_api.refresh_token = "refresh-fresh-login-" + "f" * 16
    write_catalog(catalog, [PYTHON, ROTATING, "--shim"], url, token_api.refresh_token)
    fourth = flow_sdk(*run)
    assert fourth.returncode == 0, fourth.stderr[-3000:]
    assert "the catalog's endpoint config changed since the connector updated it" in fourth.stderr
    assert token_api.refused == [] and len(token_api.issued) == 4


def test_a_fresh_token_in_the_environment_wins_over_the_stored_update(
    tmp_path: Path, api: tuple[TokenApi, str]
) -> None:
    token_api, url = api
    ref = {"$env": "ROTATING_REFRESH_TOKEN"}
    catalog = write_catalog(tmp_path / "rotating.flow.yaml", [PYTHON, ROTATING, "--shim"], url, ref)
    run = ["run", "--source", str(catalog), "--data-dir", str(tmp_path / "data")]
    login = token_api.refresh_token
    first = flow_sdk(*run, ROTATING_REFRESH_TOKEN=login)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "applied the connector's config update" in first.stderr
    again = flow_sdk(*run, ROTATING_REFRESH_TOKEN=login)  # the dead login token is not reused
    assert again.returncode == 0, again.stderr[-3000:]
    assert "using the endpoint config the connector updated in an earlier run" in again.stderr

    token_api.refresh_token = "refresh-fresh-login-" + "e" * 16
    fresh = flow_sdk(*run, ROTATING_REFRESH_TOKEN=token_api.refresh_token)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert "the catalog's endpoint config changed since the connector updated it" in fresh.stderr
    assert token_api.refused == [] and len(token_api.issued) == 3
    assert yaml.safe_load(catalog.read_text())["captures"][TASK]["endpoint"]["local"]["config"][
        "credentials"
    ]["refresh_token"] == ref  # fmt: skip
    for output in (first, again, fresh):
        assert login not in output.stderr and token_api.refresh_token not in output.stderr


def test_the_kept_config_holds_environment_secrets_as_references(
    tmp_path: Path, api: tuple[TokenApi, str]
) -> None:
    """Only what the connector rotated is kept in plaintext: a client secret from the
    environment stays `{"$env": NAME}` in the data directory and is resolved again."""
    token_api, url = api
    ref = {"$env": "ROTATING_CLIENT_SECRET"}
    catalog = write_catalog(
        tmp_path / "rotating.flow.yaml",
        [PYTHON, ROTATING, "--shim"],
        url,
        token_api.refresh_token,
        client_secret=ref,
    )
    data = tmp_path / "data"
    run = ["run", "--source", str(catalog), "--data-dir", str(data)]
    first = flow_sdk(*run, ROTATING_CLIENT_SECRET=CLIENT_SECRET)
    assert first.returncode == 0, first.stderr[-3000:]
    stored_path = data / "configs" / "acmeCo" / "rotating.json"
    assert CLIENT_SECRET.encode() not in stored_path.read_bytes()
    credentials = orjson.loads(stored_path.read_bytes())["config"]["credentials"]
    assert credentials["client_secret"] == ref
    assert credentials["refresh_token"] == token_api.issued[0]
    again = flow_sdk(*run, ROTATING_CLIENT_SECRET=CLIENT_SECRET)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "using the endpoint config the connector updated in an earlier run" in again.stderr
    assert token_api.refused == [] and len(token_api.issued) == 2
    assert CLIENT_SECRET not in first.stderr + again.stderr


def test_preview_opens_its_next_session_with_the_update(
    tmp_path: Path, api: tuple[TokenApi, str]
) -> None:
    token_api, url = api
    command = [PYTHON, "-m", "flow_sdk.airbyte.source.capture_cli", "--", PYTHON, ROTATING]
    catalog = write_catalog(tmp_path / "rotating.flow.yaml", command, url, token_api.refresh_token)
    done = flow_sdk(
        "preview",
        "--source",
        str(catalog),
        "--sessions",
        "-1,-1",
        "--max-interval",
        "0s",
        "--output-state",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert token_api.refused == [] and len(token_api.issued) == 2
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    items = [doc["id"] for name, doc in lines if name == "acmeCo/items"]
    assert items == [1, 2, 3, 1, 2, 3]
    # The second session opened with the updated config, so its overlay entry was dropped.
    states: list[Any] = [state for name, state in lines if name == "connectorState"]
    assert any(
        STATE_KEY in s.get("updated", {})
        and s["updated"][STATE_KEY].get("/credentials/refresh_token", "kept") is None
        for s in states
    ), states
    assert "laid 1 secret(s)" not in done.stderr
    # The state (printed by --output-state) holds the rotated token; logs and documents never.
    for token in token_api.issued:
        assert token not in done.stderr
        assert not any(
            token in orjson.dumps(doc).decode() for name, doc in lines if name != "connectorState"
        )


def test_a_token_rotated_by_the_validate_check_is_what_the_session_opens_with(
    tmp_path: Path, api: tuple[TokenApi, str]
) -> None:
    """The connection check calls the API (as a subprocess behind the shim), so Validate
    already rotates the token: the Open must carry the rotated one, not the catalog's."""
    token_api, url = api
    command = [PYTHON, "-m", "flow_sdk.airbyte.source.capture_cli", "--", PYTHON, ROTATING]
    catalog = write_catalog(
        tmp_path / "rotating.flow.yaml", command, url, token_api.refresh_token, check_api=True
    )
    done = flow_sdk("run", "--source", str(catalog), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert token_api.refused == [] and len(token_api.issued) == 2
    stored = orjson.loads((tmp_path / "data" / "configs" / "acmeCo" / "rotating.json").read_bytes())
    assert stored["config"]["credentials"]["refresh_token"] == token_api.issued[1]
    for token in token_api.issued:
        assert token not in done.stdout + done.stderr
