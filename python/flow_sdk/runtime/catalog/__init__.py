"""The catalog (`test.flow.yaml`) in the local runtime: loading it (`load`, the file's JSON
Schema in `file_schema`, `sops`, `env_refs`), Flow's build-time rules (`rules`, with
collection schemas read through `shape`, `shape_inference` and `formats`), and writing it
(`edit`, `discover_write`, `generate`)."""
