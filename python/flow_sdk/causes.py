"""Error texts made into sentences: the causes connectors fail with most often, said the
way a person reads them, for the last line of stderr."""

from __future__ import annotations

import re

_MAX_RETRIES = re.compile(
    r"(HTTPS?)ConnectionPool\(host='([^']*)', port=(\d+)\): Max retries exceeded with "
    r"url: (\S*) \(Caused by (\w+)\((.*?)\)\)",
    re.DOTALL,
)
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")


def readable_cause(text: str) -> str:
    """One sentence for the errors sources raise most (requests/urllib3 connection
    failures); any other text as it is, on one line."""
    text = " ".join(text.split())
    # Inside an exception's repr (as CDK summaries quote it) the quotes are escaped.
    match = _MAX_RETRIES.search(text.replace("\\'", "'"))
    if match is None:
        return text
    scheme, host, port, url, kind, inner = match.groups()
    reason = inner.strip("\"' ")
    if "Failed to resolve" in reason or kind == "NameResolutionError":
        reason = f"cannot resolve host {host!r}"
    elif kind in ("ConnectTimeoutError", "ReadTimeoutError") or "timed out" in reason:
        reason = "the connection timed out"
    else:
        reason = _ERRNO.sub("", reason.rsplit(": ", 1)[-1]).strip("\"'() ") or kind
    return f"could not connect to {scheme.lower()}://{host}:{port}{url}: {reason}"
