"""`--pip REQUIREMENT`: a published connector installed into an isolated, cached virtualenv
on first use (uv) and run as a subprocess, by `airbyte-capture` (and the same options of
`airbyte-materialize` and `singer-capture`). A tiny local package (a PEP 508 direct
reference) shows the build, its cache key and lock; airbyte-source-faker from PyPI shows a
real source run from a catalog's `command:`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from flow_sdk.pip_env import entry_point, package_name, reason

pytestmark = pytest.mark.slow
FLOW_SDK = str(Path(sys.executable).parent / "flow-sdk")
ROOT = Path(__file__).resolve().parents[3]
FAKER = "airbyte-source-faker==7.2.1"
THIS_VERSION = ".".join(str(n) for n in sys.version_info[:3])
SPEC = orjson.dumps({"spec": {"connectorType": "LOCAL", "config": {}}}).decode() + "\n"


@pytest.fixture
def tiny(tmp_path: Path) -> str:
    """A requirement for a local package whose `source-tiny` script answers Airbyte's spec."""
    package = tmp_path / "tiny-src"
    (package / "tiny").mkdir(parents=True)
    (package / "pyproject.toml").write_text(
        '[project]\nname = "source-tiny"\nversion = "0.1.0"\n'
        '[project.scripts]\nsource-tiny = "tiny:main"\n'
        '[build-system]\nrequires = ["poetry-core>=2.0"]\n'
        'build-backend = "poetry.core.masonry.api"\n'
        '[tool.poetry]\npackages = [{ include = "tiny" }]\n'
    )
    (package / "tiny" / "__init__.py").write_text(
        "import json, sys\n"
        "def main():\n"
        "    spec = {'connectionSpecification': {'type': 'object', 'title': sys.version.split()[0]}}\n"
        "    print(json.dumps({'type': 'SPEC', 'spec': spec}))\n"
    )
    return f"source-tiny @ {package.as_uri()}"


def spec_of(*args: str, cache: Path) -> subprocess.Popen[str]:
    """`flow-sdk airbyte-capture <args>` answering one spec request."""
    proc = subprocess.Popen(
        [FLOW_SDK, "airbyte-capture", *args],
        stdin=subprocess.PIPE,  # the build starts before the request is read
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLOW_SDK_VENV_CACHE": str(cache)},
    )
    return proc


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(SPEC, timeout=300)
    return proc.returncode, out, err


def test_concurrent_first_uses_build_one_virtualenv_and_reuse_it(tiny: str, tmp_path: Path) -> None:
    cache = tmp_path / "venvs"
    procs = [spec_of("--pip", tiny, cache=cache) for _ in range(3)]
    results = [finish(p) for p in procs]
    for code, out, err in results:
        assert code == 0, err
        assert orjson.loads(out)["spec"]["configSchema"]["type"] == "object"
    stderr = "".join(err for _, _, err in results)
    assert stderr.count("(first use)") == 1, stderr
    [venv] = [p for p in cache.iterdir() if p.is_dir()]
    assert venv.name.startswith("source-tiny-")

    code, _, err = finish(spec_of("--pip", tiny, cache=cache))
    assert code == 0 and "first use" not in err, "the second use is the cached virtualenv"
    # an explicit entry point, looked up in the virtualenv's bin first
    code, out, err = finish(spec_of("--pip", tiny, "--", "source-tiny", cache=cache))
    assert code == 0, err


def test_python_picks_the_interpreter_and_is_part_of_the_key(tiny: str, tmp_path: Path) -> None:
    other = Path("/usr/bin/python3")
    version = subprocess.run(
        [str(other), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
    ).stdout.strip() if other.exists() else ""  # fmt: skip
    if not version or version == THIS_VERSION:
        pytest.skip("needs a second Python interpreter of another version at /usr/bin/python3")
    cache = tmp_path / "venvs"
    code, out, err = finish(spec_of("--pip", tiny, "--python", str(other), cache=cache))
    assert code == 0, err
    assert orjson.loads(out)["spec"]["configSchema"]["title"] == version
    code, out, err = finish(spec_of("--pip", tiny, cache=cache))
    assert code == 0, err
    assert orjson.loads(out)["spec"]["configSchema"]["title"] == THIS_VERSION
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2


def last_message(stderr: str) -> str:
    return orjson.loads(stderr.strip().splitlines()[-1])["msg"]


def test_a_failed_install_is_one_sentence_with_pips_reason(tmp_path: Path) -> None:
    cache = tmp_path / "venvs"
    code, out, err = finish(spec_of("--pip", "airbyte-source-faker==999.0.0", cache=cache))
    assert code == 1 and out == ""
    assert last_message(err) == (
        "--pip 'airbyte-source-faker==999.0.0' failed while installing it: No solution found "
        "when resolving dependencies: Because there is no version of "
        "airbyte-source-faker==999.0.0 and you require airbyte-source-faker==999.0.0, we can "
        "conclude that your requirements are unsatisfiable."
    )
    # the constraint file is honoured (here: it cannot be satisfied together with faker)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("airbyte-cdk<1\n")
    code, _, err = finish(spec_of("--pip", FAKER, "--constraint", str(constraints), cache=cache))
    assert code == 1
    message = last_message(err)
    assert message.startswith(f"--pip '{FAKER}' failed while installing it: No solution found")
    assert "airbyte-cdk<1" in message
    assert not [p for p in cache.iterdir() if p.is_dir() and (p / ".flow-sdk-ready").exists()]


def test_entry_point_defaults_and_reasons(tmp_path: Path) -> None:
    assert package_name("Airbyte_Source.Faker[extra]>=7 ; python_version>'3'") == (
        "airbyte-source-faker"
    )
    (tmp_path / "bin").mkdir()
    for name in ("source-faker", "python", "other-tool"):
        script = tmp_path / "bin" / name
        script.write_text("#!/bin/sh\n")
        script.chmod(0o755)
    assert entry_point(tmp_path, FAKER, []) == [str(tmp_path / "bin" / "source-faker")]
    assert entry_point(tmp_path, FAKER, ["other-tool", "-x"]) == [
        str(tmp_path / "bin" / "other-tool"),
        "-x",
    ]
    assert entry_point(tmp_path, FAKER, ["docker", "run"]) == ["docker", "run"]
    with pytest.raises(Exception, match=r"installed no console script named tap-x; .*other-tool"):
        entry_point(tmp_path, "tap-x==1", [])
    assert reason("  × Failed to build `x`\n  ╰─▶ Build backend failed\n") == (
        "Failed to build `x`: Build backend failed"
    )


def test_faker_from_a_catalog_command(tmp_path: Path) -> None:
    """The catalog names the requirement; the runtime's processes share the cached build."""
    env = {**os.environ, "FLOW_SDK_VENV_CACHE": str(ROOT / ".cache" / "flow-sdk-venvs")}
    config = {"count": 3, "seed": 7, "records_per_slice": 5, "parallelism": 1}
    command = [FLOW_SDK, "airbyte-capture", "--pip", FAKER]
    capture = {"endpoint": {"local": {"command": command, "config": config}}, "bindings": []}
    catalog = tmp_path / "faker.flow.yaml"
    catalog.write_text(yaml.safe_dump({"captures": {"acmeCo/faker": capture}}))

    def flow_sdk(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [FLOW_SDK, *args, "--source", str(catalog)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    flow_sdk("raw", "discover")
    written = yaml.safe_load(catalog.read_text())
    bindings = written["captures"]["acmeCo/faker"]["bindings"]
    assert {b["resource"]["stream"] for b in bindings} >= {"users", "products", "purchases"}
    written["captures"]["acmeCo/faker"]["bindings"] = [
        b for b in bindings if b["resource"]["stream"] == "users"
    ]
    catalog.write_text(yaml.safe_dump(written))
    done = flow_sdk("preview", "--sessions", "-1")
    users = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [name for name, _ in users] == ["acmeCo/users"] * 3


@pytest.mark.parametrize("adapter", ["airbyte-capture", "airbyte-materialize", "singer-capture"])
def test_every_subprocess_adapter_takes_pip(adapter: str, tmp_path: Path) -> None:
    missing = (tmp_path / "nowhere").as_uri()
    done = subprocess.run(
        [FLOW_SDK, adapter, "--pip", f"source-nowhere @ {missing}"],
        input=SPEC,
        capture_output=True,
        text=True,
        env={**os.environ, "FLOW_SDK_VENV_CACHE": str(tmp_path / "venvs")},
        timeout=120,
    )
    assert done.returncode == 1 and done.stdout == ""
    message = last_message(done.stderr)
    assert message.startswith(f"--pip 'source-nowhere @ {missing}' failed while installing it: ")
    assert "nowhere" in message.split(": ", 1)[1]
    usage = subprocess.run([FLOW_SDK, adapter, "--help"], capture_output=True, text=True)
    assert "--pip REQUIREMENT" in usage.stdout and "--constraint FILE" in usage.stdout


def test_python_without_pip_is_refused(tmp_path: Path) -> None:
    code, _, err = finish(spec_of("--python", "3.11", "--", "source-x", cache=tmp_path))
    assert code == 1
    assert last_message(err) == "--python and --constraint only apply with --pip"
