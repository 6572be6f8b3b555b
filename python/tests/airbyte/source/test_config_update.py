"""CONTROL config updates sealed as Flow expects, with a real single-use refresh token.

`rotating_source.py` uses airbyte-cdk's own `SingleUseRefreshTokenOauth2Authenticator`
against a loopback token server that refuses a reused refresh token; the config-encryption
endpoint is a loopback server answering a sops-like envelope. Both run in process and as a
subprocess behind the shim.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from airbyte_shim_process import HERE, PYTHON, binding, open_request, run_connector
from oauth_servers import EncryptionService, TokenApi, serving

from flow_sdk.airbyte.source.config_update import (
    STATE_KEY,
    ConfigUpdates,
    lay_over,
    merged_config,
)
from flow_sdk.shared_answers import CONFIG_UPDATE_FILE_ENV

ROTATING = str(HERE / "rotating_source.py")
ROTATING_MODES = {
    "inprocess": [PYTHON, ROTATING, "--shim"],
    "subprocess": [PYTHON, "-m", "flow_sdk.airbyte.source.capture_cli", "--", PYTHON, ROTATING],
}
ITEMS = binding("items", "full_refresh")
POINTER = "/credentials/refresh_token"
CLIENT_SECRET = "client-secret-0123456789"


class Servers:
    def __init__(self, api: TokenApi, api_url: str, sealer: EncryptionService, seal_url: str):
        self.api, self.api_url, self.sealer = api, api_url, sealer
        self.env = {"ENCRYPTION_URL": seal_url + "/v1/encrypt-config"}

    def config(self, refresh_token: str | None = None) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "credentials": {
                "client_id": "client-1",
                "client_secret": CLIENT_SECRET,
                "refresh_token": refresh_token or self.api.initial_refresh_token,
            },
        }


@pytest.fixture
def servers() -> Iterator[Servers]:
    api, sealer = TokenApi(), EncryptionService()
    with serving(api) as api_url, serving(sealer) as seal_url:
        yield Servers(api, api_url, sealer, seal_url)


def events(run: Any) -> list[dict[str, Any]]:
    return [line for line in run.logs if line.get("fields", {}).get("eventType") == "configUpdate"]


@pytest.mark.parametrize("mode", list(ROTATING_MODES))
def test_rotation_is_sealed_whole_kept_in_state_and_survives_a_restart(
    mode: str, servers: Servers
) -> None:
    argv, api = ROTATING_MODES[mode], servers.api
    config = servers.config()
    first = run_connector(argv, [open_request(config, [ITEMS])], env=servers.env)
    assert first.code == 0, first.stderr[-3000:]
    assert [d["id"] for d in first.docs()] == [1, 2, 3]
    assert len(api.issued) == 1 and api.refused == []
    rotated = api.issued[0]

    # The event carries what the service sealed: the whole merged config, with the schema.
    (event,) = events(first)
    sent = servers.sealer.requests[-1]
    assert sent["config"]["api_url"] == servers.api_url
    assert sent["config"]["credentials"]["client_id"] == "client-1"
    assert sent["config"]["credentials"]["client_secret"] == CLIENT_SECRET
    assert sent["config"]["credentials"]["refresh_token"] == rotated
    assert sent["config"]["credentials"]["access_token"] == api.access_token
    marks = sent["schema"]["properties"]["credentials"]["properties"]["refresh_token"]
    assert marks["airbyte_secret"] and marks["secret"], "the Spec's configSchema"
    sealed = event["fields"]["config"]
    assert sealed["sops"]["encrypted_suffix"] == "_sops"
    assert sealed["credentials"]["refresh_token_sops"].startswith("ENC[")
    assert sealed["credentials"]["client_id"] == "client-1"
    for plaintext in (rotated, api.access_token, CLIENT_SECRET, '"type": "CONTROL"'):
        assert plaintext not in first.stderr

    # The rotated secret is checkpointed under the reserved key, never in a document.
    state = first.reduced_state()
    assert state[STATE_KEY][POINTER]["value"] == rotated
    assert rotated not in orjson.dumps(first.docs()).decode()

    # A restart before Flow republishes opens with the old config: the overlay carries it.
    second = run_connector(argv, [open_request(config, [ITEMS], state)], env=servers.env)
    assert second.code == 0, second.stderr[-3000:]
    assert api.refused == [] and len(api.issued) == 2
    assert [d["id"] for d in second.docs()] == [1, 2, 3]
    state = second.reduced_state(state)
    assert state[STATE_KEY][POINTER]["value"] == api.issued[1]

    # Without the overlay the old token is dead: the server refuses it (the test can fail).
    bare = {k: v for k, v in state.items() if k != STATE_KEY}
    dead = run_connector(argv, [open_request(config, [ITEMS], bare)], env=servers.env)
    assert dead.code != 0 and api.refused == [api.initial_refresh_token]
    for plaintext in (api.issued[0], api.issued[1], CLIENT_SECRET):
        assert plaintext not in second.stderr + dead.stderr


def test_republished_config_drops_the_overlay(servers: Servers) -> None:
    argv, api = ROTATING_MODES["inprocess"], servers.api
    first = run_connector(argv, [open_request(servers.config(), [ITEMS])], env=servers.env)
    state = first.reduced_state()
    # Flow republished the task with the sealed update: the config now holds the new token.
    republished = servers.config(api.issued[0])
    second = run_connector(argv, [open_request(republished, [ITEMS], state)], env=servers.env)
    assert second.code == 0, second.stderr[-3000:]
    assert second.of("checkpoint")[0]["state"] == {
        "updated": {STATE_KEY: {POINTER: None}},
        "mergePatch": True,
    }
    assert api.refused == [] and len(api.issued) == 2


def test_unreachable_encryption_endpoint_is_a_warning_and_the_capture_goes_on(
    servers: Servers,
) -> None:
    env = {"ENCRYPTION_URL": "http://127.0.0.1:9/v1/encrypt-config"}
    run = run_connector(
        ROTATING_MODES["inprocess"], [open_request(servers.config(), [ITEMS])], env=env
    )
    assert run.code == 0, run.stderr[-3000:]
    assert events(run) == []
    (warning,) = [line for line in run.logs if "could not be sealed" in line.get("msg", "")]
    assert warning["level"] == "warn"
    assert "http://127.0.0.1:9/v1/encrypt-config is unreachable" in warning["msg"]
    assert "kept in the connector state" in warning["msg"]
    assert run.reduced_state()[STATE_KEY][POINTER]["value"] == servers.api.issued[0]
    assert servers.api.issued[0] not in run.stderr


# ---- the pieces ----


def test_merge_lays_a_partial_update_over_the_whole_config() -> None:
    current = {"a": 1, "credentials": {"id": "x", "token": "old"}, "list": [1, 2]}
    update = {"credentials": {"token": "new"}, "list": [3]}
    assert merged_config(current, update) == {
        "a": 1,
        "credentials": {"id": "x", "token": "new"},
        "list": [3],
    }
    assert current["credentials"]["token"] == "old", "the current config is not changed"


def test_overlay_is_laid_over_only_a_value_it_replaced(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = logging.getLogger("flow.test_config_update")
    local = tmp_path / "update.json"  # as under the local runtime: no service is called
    monkeypatch.setenv(CONFIG_UPDATE_FILE_ENV, str(local))
    monkeypatch.delenv("ENCRYPTION_URL", raising=False)
    schema = {"properties": {"token": {"type": "string", "secret": True}}}
    updates = ConfigUpdates({"token": "token-0", "x": 1}, lambda: schema, log)
    first, second = (
        updates.control({"type": "CONNECTOR_CONFIG", "connectorConfig": {"config": {"token": t}}})
        for t in ("token-1", "token-2")
    )
    assert first is not None and second is not None
    assert orjson.loads(local.read_bytes()) == {"token": "token-2", "x": 1}
    overlay = second[STATE_KEY]
    assert overlay["/token"]["value"] == "token-2" and len(overlay["/token"]["replaces"]) == 2
    # Not republished yet (token-0), or republished with an older update (token-1): laid over.
    for stale in ("token-0", "token-1"):
        config, kept, dropped = lay_over({"token": stale, "x": 1}, overlay, log)
        assert config == {"token": "token-2", "x": 1} and kept == overlay and dropped == {}
    # Republished with it: dropped. Changed by someone else (re-authorised): the config wins.
    for current in ("token-2", "token-from-a-new-oauth-login"):
        config, kept, dropped = lay_over({"token": current}, overlay, log)
        assert config == {"token": current} and kept == {}
        assert dropped == {STATE_KEY: {"/token": None}}
