"""The local runtime: drives connectors as processes, the way Flow's runtime does, and
more strictly, so that a connector that passes here passes in production.

Seams: `catalog` (+ `catalog_schema`, `sops`, `env_refs`, `durations`) loads
`test.flow.yaml`, `catalog_edit` edits it in place; `masking` keeps `$env` values out of
every printed line;
`process` runs a connector and `logs` renders its stderr; `driver` makes unary requests
(probe Spec first, one response then EOF); `strict` parses responses; `capture_build`,
`capture_session`, `schema`, `state` build and check capture sessions; `raw`, `preview`,
`discover_write` and `progress` are what `flow-sdk` commands call. Depends on
`flow_sdk.protocol` only, and never imports connectors.
"""
