"""Captures in the local runtime: building the task (`build`), one strict protocol session
(`session`), `flow-sdk preview` of a capture (`preview`, `progress`), the capture half of
`flow-sdk run` (`run`), and the config updates a source leaves for its next session
(`config_updates`)."""
