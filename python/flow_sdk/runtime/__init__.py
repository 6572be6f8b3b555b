"""The local runtime: drives connectors as processes, the way Flow's runtime does, and
more strictly, so that a connector that passes here passes in production.

Grouped by task kind:

- `catalog/` loads `test.flow.yaml` (`load`, `file_schema`, `sops`, `env_refs`), checks it
  against Flow's build rules (`rules`, `shape`, `shape_inference`, `formats`) and writes it
  (`edit`, `discover_write`, `generate`);
- `capture/`, `materialize/`, `derive/` each build their task, drive its connector through
  one strict session, and preview or run it;
- shared at this level: `process` runs a connector and `console` renders its stderr (the
  one place the runtime prints); `launcher` starts a task's connector processes and makes
  its unary requests (probe Spec first, one response then EOF); `strict` parses responses; `schema`, `keys`, `depth`, `state`, `fixture`,
  `backfill` hold Flow's document rules; `journal` and `run` are `flow-sdk run`'s data
  directory and commit loop; `raw` and `preview` are what `flow-sdk raw` / `preview` share;
  `masking` keeps `$env` values out of every printed line; `document_meta` is the `_meta`
  the runtime writes; `testing_seams` is the one test-only hook (crash points of `run`).

Depends on `flow_sdk.protocol` only, and never imports connectors.
"""
