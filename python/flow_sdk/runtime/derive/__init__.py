"""Derivations in the local runtime: reading them from the catalog (`catalog`) and
`flow-sdk preview --fixture` of one (`preview`)."""
