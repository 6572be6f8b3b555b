"""`flow-sdk new DIR`: scaffold a connector into the connectors workspace.

`plan` decides what the new connector is (its kind, its origin, every file and edit), and
refuses before anything is written when a file exists or a name is taken; `templates` holds
the files' text; `workspace` edits the root `pyproject.toml`, the CI matrix and the catalog
in place; `new` runs the steps (write, `uv lock`, `uv sync`, stub config, discover) and
undoes the workspace edits when a step before the connector can run fails.
"""

from flow_sdk.runtime.scaffold.new import new_connector
from flow_sdk.runtime.scaffold.plan import Origin, Plan, make_plan

__all__ = ["Origin", "Plan", "make_plan", "new_connector"]
