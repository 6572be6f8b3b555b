"""The wrapping CLIs spell shared options alike: a catalog's `command:` may move from one
shim to another without renaming flags."""

from __future__ import annotations

from flow_sdk.airbyte.destination import materialize_cli
from flow_sdk.airbyte.source import capture_cli
from flow_sdk.singer import capture_cli as singer_cli


def test_every_wrapping_cli_takes_docs_url() -> None:
    url = "https://example.com/docs"
    assert capture_cli.parser().parse_args(["--docs-url", url]).docs_url == url
    assert singer_cli.parser().parse_args(["--docs-url", url]).docs_url == url
    materialize = materialize_cli.parser()
    assert materialize.parse_args(["--docs-url", url]).documentation_url == url
    # The older spelling still works.
    assert materialize.parse_args(["--documentation-url", url]).documentation_url == url
