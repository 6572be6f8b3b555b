"""sops-encrypted endpoint configs, with a stand-in `sops` executable on PATH (the real
binary cannot be installed here): the call, suffix stripping, and the missing-binary error."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

from flow_sdk.runtime.catalog.sops import SOPS_ARGS, strip_suffix, unseal
from flow_sdk.runtime.errors import CatalogError

SEALED = {
    "count_sops": "ENC[AES256_GCM,data:Mw==,type:int]",
    "every": 2,
    "sops": {"encrypted_suffix": "_sops", "version": "3.8.1"},
}
DECRYPTED = {
    "count_sops": 3,
    "every": 2,
    "nested": {"inner_sops_sops": {"deep_sops": 1}, "list": [{"item_sops": "x"}], "plain": 1},
    "sops": {"encrypted_suffix": "_sops", "version": "3.8.1"},
}


def install_sops(bin_dir: Path, output: dict | None, exit_code: int = 0) -> Path:
    """A `sops` that records its argv and stdin next to itself and prints `output`."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "sops"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, pathlib\n"
        "here = pathlib.Path(sys.argv[0]).parent\n"
        "(here / 'argv.json').write_text(json.dumps(sys.argv[1:]))\n"
        "(here / 'stdin.json').write_text(sys.stdin.read())\n"
        f"if {exit_code}:\n"
        "    sys.stderr.write('sops: something went wrong\\nFailed to get the data key\\n')\n"
        f"    sys.exit({exit_code})\n"
        f"print(json.dumps({output!r}))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


@pytest.fixture
def sops_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    def install(output: dict | None = DECRYPTED, exit_code: int = 0) -> Path:
        bin_dir = install_sops(tmp_path / "bin", output, exit_code)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        return bin_dir

    return install


def test_sealed_config_is_decrypted_with_sops_and_suffixes_stripped(sops_on_path) -> None:
    bin_dir = sops_on_path()
    config = unseal(SEALED, "catalog.yaml: captures.x.endpoint.local.config")
    assert json.loads((bin_dir / "argv.json").read_text()) == SOPS_ARGS
    assert SOPS_ARGS == ["--decrypt", "--input-type", "json", "--output-type", "json", "/dev/stdin"]
    assert json.loads((bin_dir / "stdin.json").read_text()) == SEALED
    assert config == {
        "count": 3,
        "every": 2,
        "nested": {"inner_sops": {"deep": 1}, "list": [{"item": "x"}], "plain": 1},
    }


def test_plain_config_passes_through_without_sops(sops_on_path) -> None:
    bin_dir = sops_on_path()
    assert unseal({"count": 1, "sops_note": "x"}, "here") == {"count": 1, "sops_note": "x"}
    assert not (bin_dir / "argv.json").exists()


def test_no_suffix_means_no_stripping(sops_on_path) -> None:
    sops_on_path({"a_sops": 1, "sops": {}})
    assert unseal({"a_sops": "ENC[...]", "sops": {"version": "3"}}, "here") == {"a_sops": 1}


def test_strip_suffix_removes_it_once_per_key() -> None:
    assert strip_suffix({"a_sops_sops": [{"b_sops": {"c": 1}}]}, "_sops") == {
        "a_sops": [{"b": {"c": 1}}]
    }


def test_missing_sops_binary_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CatalogError, match=r"`sops` binary is not on PATH") as caught:
        unseal(SEALED, "catalog.yaml: captures.x.endpoint.local.config")
    assert "catalog.yaml: captures.x.endpoint.local.config is encrypted with sops" in str(
        caught.value
    )


def test_sops_failure_names_its_cause(sops_on_path) -> None:
    sops_on_path(None, exit_code=1)
    with pytest.raises(CatalogError, match="exit code 1.*Failed to get the data key"):
        unseal(SEALED, "here")


def test_preview_uses_the_decrypted_config(catalog: Path, sops_on_path, cli) -> None:
    bin_dir = sops_on_path()
    (catalog.parent / "counter.config.yaml").write_text(yaml.safe_dump(SEALED))
    result = cli("raw", "validate", "--source", str(catalog), env={"PATH": os.environ["PATH"]})
    assert result.code == 0, result.stderr
    assert (bin_dir / "argv.json").exists()
    # Without decryption `count` would be missing and the config would not match the spec.
    result = cli("raw", "validate", "--source", str(catalog), env={"PATH": str(catalog.parent)})
    assert result.code == 1
    assert "`sops` binary is not on PATH" in result.last_error
    assert "counter.config.yaml" in result.last_error
