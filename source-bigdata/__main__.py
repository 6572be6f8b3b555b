"""`python -m source-bigdata` from the repository root, as in flow-sdk's docs: the directory
is importable as a namespace package, and this runs the Flow capture (`source_bigdata`)."""

import runpy

if __name__ == "__main__":
    runpy.run_module("source_bigdata", run_name="__main__", alter_sys=True)
