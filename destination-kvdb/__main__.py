"""`python -m destination-kvdb` from the repository root, as in flow-sdk's docs: the directory
is importable as a namespace package, and this runs the Flow materialization (`destination_kvdb`)."""

import runpy

if __name__ == "__main__":
    runpy.run_module("destination_kvdb", run_name="__main__", alter_sys=True)
