"""The Airbyte destination half: an Airbyte destination as a Flow materialization
(`MaterializeShim`), its spec and stream mapping, state echoes, and the in-process and
subprocess ways to write to it."""
