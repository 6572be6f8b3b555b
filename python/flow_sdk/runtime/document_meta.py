"""The `_meta` the local runtime gives documents, as Flow's does.

Flow stamps every document it publishes with `/_meta/uuid`; a preview (`flowctl preview`)
prints Flow's fixed placeholder there instead of a real UUID, and so does the local runtime,
in every document and control line it writes (captured, derived, materialized, backfill
signals).
"""

from __future__ import annotations

UUID_PLACEHOLDER = "DocUUIDPlaceholder-329Bb50aa48EAa9ef"
"""The `/_meta/uuid` of every document the local runtime writes."""
