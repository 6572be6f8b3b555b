"""Checks a licence id offline against the SPDX licence list bundled with license-expression.

    python scripts/spdx_license.py 'MIT OR Apache-2.0'    # prints the normalized expression

Exit 0 with the normalized expression on stdout, or 1 with one sentence on stderr. Used by
pull_upstream.sh, so an import never records a licence that is not on the SPDX list."""

from __future__ import annotations

import sys


def normalize(expression: str) -> str:
    """The SPDX-normalized form of `expression`; ValueError says why it is not one."""
    try:
        from license_expression import get_spdx_licensing
    except ImportError as exc:
        raise ValueError(
            "cannot check licence ids: the license-expression package is not installed "
            "(run 'uv sync' in the workspace)"
        ) from exc
    if not expression.strip():
        raise ValueError("the licence id is empty; give an SPDX id such as MIT or Apache-2.0")
    try:
        info = get_spdx_licensing().validate(expression)
    except Exception as exc:  # the parser raises assorted errors on malformed expressions
        raise ValueError(f"'{expression}' is not a valid SPDX licence expression") from exc
    if info.errors or not info.normalized_expression:
        unknown = ", ".join(info.invalid_symbols) or expression
        raise ValueError(
            f"'{unknown}' is not on the SPDX licence list; use an id from "
            "https://spdx.org/licenses/ (for example MIT, Apache-2.0, Elastic-2.0)"
        )
    refs = [s for s in info.normalized_expression.split() if s.startswith("LicenseRef-")]
    if refs:
        raise ValueError(f"'{refs[0]}' is a private LicenseRef, not an id on the SPDX licence list")
    return info.normalized_expression


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/spdx_license.py LICENSE_ID", file=sys.stderr)
        return 2
    try:
        print(normalize(argv[0]))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
