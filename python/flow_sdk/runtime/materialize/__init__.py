"""Materializations in the local runtime: building the task (`build`), one strict protocol
session (`session`), `flow-sdk preview --fixture` of a materialization (`preview`), the
materialize half of `flow-sdk run` (`run`), and which documents are deletions (`deletions`)."""
