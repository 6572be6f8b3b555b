"""One stream name in two namespaces, and a keyless incremental stream, end to end: the
airbyte-cdk 7 `tenant_source.py` behind the shim in process and as a subprocess (over the
Flow protocol), and behind `flow-sdk raw discover` / `raw validate` / `preview` on a catalog."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml
from airbyte_shim_process import HERE, PYTHON, Run, binding, open_request, run_connector

SOURCE = str(HERE / "tenant_source.py")
MODES = {
    "inprocess": [PYTHON, SOURCE, "--flow"],
    "subprocess": [PYTHON, "-m", "flow_sdk.airbyte.source.capture_cli", "--", PYTHON, SOURCE],
}
TENANT_A = binding("users", "incremental", namespace="tenant_a", cursor=["updated_at"])
TENANT_B = binding("users", "incremental", namespace="tenant_b", cursor=["updated_at"])
FILES = binding("files", "incremental", cursor=["modified"])
AMBIGUOUS = (
    "the source wrote a record of stream 'users' without a namespace, but the capture binds "
    "'users' in 2 namespaces ('tenant_a', 'tenant_b'), so it cannot tell which binding it "
    "belongs to; bind only one of them, or make the source set the namespace on its messages"
)


@pytest.fixture(params=list(MODES))
def shim(request: pytest.FixtureRequest) -> list[str]:
    return MODES[request.param]


def capture(shim: list[str], config: dict, bindings: list[dict], state: object = None) -> Run:
    run = run_connector(shim, [open_request(config, bindings, state)])
    assert run.code == 0, run.stderr[-3000:]
    assert run.responses[0] == {"opened": {}}
    assert "checkpoint" in run.responses[-1]
    return run


def users(run: Run, index: int) -> list[tuple[int, int, str]]:
    return [(d["id"], d["_meta"]["row_id"], d["name"]) for d in run.docs(index)]


def test_discover_gives_each_namespace_its_collection_and_files_an_append_log(
    shim: list[str],
) -> None:
    run = run_connector(shim, [{"discover": {"config": {"count": 1}}}])
    assert run.code == 0, run.stderr[-3000:]
    found = run.responses[0]["discovered"]["bindings"]
    assert [
        (b["recommendedName"], b["resourceConfig"], b["resourcePath"], b["key"]) for b in found
    ] == [
        (
            "tenant_a/users",
            {
                "stream": "users",
                "syncMode": "incremental",
                "namespace": "tenant_a",
                "cursorField": ["updated_at"],
            },
            ["tenant_a", "users"],
            ["/id"],
        ),
        (
            "tenant_b/users",
            {
                "stream": "users",
                "syncMode": "incremental",
                "namespace": "tenant_b",
                "cursorField": ["updated_at"],
            },
            ["tenant_b", "users"],
            ["/id"],
        ),
        (
            "files",
            {"stream": "files", "syncMode": "incremental", "cursorField": ["modified"]},
            ["files"],
            ["/_meta/row_id"],
        ),
    ]


def test_namespaced_records_states_and_statuses_reach_their_own_binding(shim: list[str]) -> None:
    config = {"count": 3, "every": 2, "namespaced_records": True}
    first = capture(shim, config, [TENANT_A, TENANT_B])
    assert users(first, 0) == [(n, n - 1, f"tenant_a user {n}") for n in (1, 2, 3)]
    assert users(first, 1) == [(n, n - 1, f"tenant_b user {n}") for n in (1, 2, 3)]
    state = first.reduced_state()
    assert state == {
        "bindingStateV1": {
            key: {
                "rowId": 3,
                "stream": [
                    {
                        "stream_descriptor": {"name": "users", "namespace": tenant},
                        "stream_state": {"updated_at": 3},
                    }
                ],
            }
            for key, tenant in (("tenant_a%2Fusers", "tenant_a"), ("tenant_b%2Fusers", "tenant_b"))
        }
    }
    assert TENANT_A["stateKey"] == "tenant_a%2Fusers"
    assert "skipping" not in first.stderr and "ignored" not in first.stderr

    # Each namespace resumes from its own state: only new users, row ids continuing.
    config["count"] = 5
    second = capture(shim, config, [TENANT_A, TENANT_B], state)
    assert users(second, 0) == [(4, 3, "tenant_a user 4"), (5, 4, "tenant_a user 5")]
    assert users(second, 1) == [(4, 3, "tenant_b user 4"), (5, 4, "tenant_b user 5")]


def test_records_without_namespace_fail_when_several_namespaces_are_bound(
    shim: list[str],
) -> None:
    run = run_connector(shim, [open_request({"count": 3}, [TENANT_A, TENANT_B])])
    assert run.code == 1
    assert run.last_error == AMBIGUOUS
    assert run.of("captured") == [] and run.of("checkpoint") == []


def test_records_without_namespace_go_to_the_one_bound_namespace(shim: list[str]) -> None:
    run = capture(shim, {"count": 2, "every": 1}, [TENANT_B])
    assert users(run, 0) == [(1, 0, "tenant_b user 1"), (2, 1, "tenant_b user 2")]
    assert run.reduced_state()["bindingStateV1"]["tenant_b%2Fusers"]["stream"] == [
        {
            "stream_descriptor": {"name": "users", "namespace": "tenant_b"},
            "stream_state": {"updated_at": 2},
        }
    ]


def test_keyless_incremental_stream_is_an_append_log_that_resumes(shim: list[str]) -> None:
    first = capture(shim, {"count": 0, "files": 5, "every": 2}, [FILES])
    assert [(d["modified"], d["_meta"]["row_id"]) for d in first.docs()] == [
        (n, n - 1) for n in range(1, 6)
    ]
    state = first.reduced_state()
    assert state["bindingStateV1"]["files"] == {
        "rowId": 5,
        "stream": [{"stream_descriptor": {"name": "files"}, "stream_state": {"modified": 5}}],
    }, "an incremental sweep's state stays after it completes"

    second = capture(shim, {"count": 0, "files": 7, "every": 2}, [FILES], state)
    assert [(d["modified"], d["_meta"]["row_id"]) for d in second.docs()] == [(6, 5), (7, 6)], (
        "only new files, with row ids that continue (no key is overwritten)"
    )
    assert second.reduced_state(state)["bindingStateV1"]["files"]["rowId"] == 7


@pytest.mark.parametrize("shim", [MODES["inprocess"]], ids=["inprocess"])
def test_full_refresh_binding_of_the_keyless_stream_restarts_its_row_ids(shim: list[str]) -> None:
    # As older discovers wrote it: full_refresh, with a cursorField the source ignores.
    old = binding("files", "full_refresh", cursor=["modified"])
    first = capture(shim, {"count": 0, "files": 3, "every": 2}, [old])
    assert [(d["modified"], d["_meta"]["row_id"]) for d in first.docs()] == [(1, 0), (2, 1), (3, 2)]
    state = first.reduced_state()
    assert "files" not in state.get("bindingStateV1", {})
    second = capture(shim, {"count": 0, "files": 4, "every": 2}, [old], state)
    assert [(d["modified"], d["_meta"]["row_id"]) for d in second.docs()] == [
        (1, 0),
        (2, 1),
        (3, 2),
        (4, 3),
    ], "each sweep re-reads everything and rewrites the same row ids"


# ---- through the local runtime: `flow-sdk raw discover` on a catalog file ----


def flow_sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flow_sdk.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def write_catalog(path: Path, config: dict, bindings: list[dict]) -> None:
    capture = {"endpoint": {"local": {"command": MODES["inprocess"], "config": config}}}
    capture["bindings"] = bindings
    path.write_text(yaml.safe_dump({"captures": {"acmeCo/tenants": capture}}, sort_keys=False))


def test_raw_discover_is_idempotent_and_validates(tmp_path: Path) -> None:
    catalog = tmp_path / "flow.yaml"
    write_catalog(catalog, {"count": 2, "files": 2, "namespaced_records": True}, [])
    source = ["--source", str(catalog)]

    done = flow_sdk("raw", "discover", *source, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    written = yaml.safe_load(catalog.read_text())
    assert [(b["target"], b["resource"]) for b in written["captures"]["acmeCo/tenants"]["bindings"]] == [
        (
            "acmeCo/tenant_a/users",
            {"stream": "users", "syncMode": "incremental", "namespace": "tenant_a", "cursorField": ["updated_at"]},
        ),
        (
            "acmeCo/tenant_b/users",
            {"stream": "users", "syncMode": "incremental", "namespace": "tenant_b", "cursorField": ["updated_at"]},
        ),
        ("acmeCo/files", {"stream": "files", "syncMode": "incremental", "cursorField": ["modified"]}),
    ]  # fmt: skip
    assert {name: c["key"] for name, c in written["collections"].items()} == {
        "acmeCo/tenant_a/users": ["/id"],
        "acmeCo/tenant_b/users": ["/id"],
        "acmeCo/files": ["/_meta/row_id"],
    }
    first = catalog.read_text()

    again = flow_sdk("raw", "discover", *source, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert catalog.read_text() == first, "discovering again changes nothing"
    assert "not discovered" not in again.stderr

    validated = flow_sdk("raw", "validate", *source, cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr[-3000:]
    assert [orjson.loads(line)["stateKey"] for line in validated.stdout.splitlines()] == [
        "tenant_a%2Fusers",
        "tenant_b%2Fusers",
        "files",
    ]

    preview = flow_sdk("preview", *source, "--sessions", "-1", cwd=tmp_path)
    assert preview.returncode == 0, preview.stderr[-3000:]
    docs = [orjson.loads(line) for line in preview.stdout.splitlines()]
    assert [(name, d.get("name") or d["path"]) for name, d in docs] == [
        ("acmeCo/tenant_a/users", "tenant_a user 1"),
        ("acmeCo/tenant_a/users", "tenant_a user 2"),
        ("acmeCo/tenant_b/users", "tenant_b user 1"),
        ("acmeCo/tenant_b/users", "tenant_b user 2"),
        ("acmeCo/files", "in/1.csv"),
        ("acmeCo/files", "in/2.csv"),
    ]


def test_raw_discover_repairs_the_duplicates_older_discovers_wrote(tmp_path: Path) -> None:
    catalog = tmp_path / "flow.yaml"
    a = {"stream": "users", "syncMode": "incremental", "namespace": "tenant_a"}
    b = {"stream": "users", "syncMode": "incremental", "namespace": "tenant_b"}
    # What discovering twice used to leave: tenant_a's binding twice, both tenants in acmeCo/users.
    old = [
        {"resource": a, "target": "acmeCo/users"},
        {"resource": a, "target": "acmeCo/users"},
        {"resource": b, "target": "acmeCo/users"},
    ]
    write_catalog(catalog, {"count": 1}, old)
    refused = flow_sdk("raw", "validate", "--source", str(catalog), cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"flow-sdk: error: {catalog}: captures.acmeCo/tenants.bindings[0] and bindings[1] "
        "capture the same resource ['tenant_a', 'users'] (into 'acmeCo/users' and "
        "'acmeCo/users'); remove one of them"
    ), "the catalog's mistake, not the connector's"
    done = flow_sdk("raw", "discover", "--source", str(catalog), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "a binding of the catalog repeats an earlier one exactly; dropping the repeat" in (
        done.stderr
    )
    bindings = yaml.safe_load(catalog.read_text())["captures"]["acmeCo/tenants"]["bindings"]
    assert bindings == [
        {"resource": a, "target": "acmeCo/users"},
        {"resource": b, "target": "acmeCo/users"},
        {
            "resource": {"stream": "files", "syncMode": "incremental", "cursorField": ["modified"]},
            "target": "acmeCo/files",
        },
    ], "existing bindings are kept as written, each once"
    validated = flow_sdk("raw", "validate", "--source", str(catalog), cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr[-3000:]
