"""`check_connector_schema`: a catalog's config against the connector's Spec schemas, the one
check both capture and materialization builds make."""

from __future__ import annotations

import pytest

from flow_sdk.runtime.errors import CatalogError
from flow_sdk.runtime.schema import check_connector_schema

SCHEMA = {"type": "object", "properties": {"port": {"type": "integer"}}, "required": ["port"]}


def test_a_matching_config_and_no_schema_pass() -> None:
    check_connector_schema(SCHEMA, {"port": 5432}, "flow.yaml: endpoint", "configSchema")
    check_connector_schema(None, {"anything": True}, "flow.yaml: endpoint", "configSchema")


def test_a_mismatch_names_where_which_schema_and_the_path() -> None:
    with pytest.raises(CatalogError) as err:
        check_connector_schema(SCHEMA, {"port": "x"}, "flow.yaml: endpoint", "configSchema")
    assert str(err.value).startswith(
        "flow.yaml: endpoint does not match the connector's configSchema: at /port: "
    )


def test_an_invalid_schema_is_the_connectors_fault() -> None:
    with pytest.raises(CatalogError, match="the connector's resourceConfigSchema is not a valid"):
        check_connector_schema({"type": 5}, {}, "flow.yaml: bindings[0]", "resourceConfigSchema")
