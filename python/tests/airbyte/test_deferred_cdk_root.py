"""flow_sdk.airbyte.deferred_cdk_root: airbyte-cdk's package runs its `__init__` only when a
name of its own is asked for, and is then the stock package, name for name. Each check runs
in a fresh interpreter: the state under test is what a process imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from flow_sdk.airbyte.deferred_cdk_root import EAGER_ENV, imported_names, install

DECLARATIVE = "airbyte_cdk.legacy.sources.declarative.declarative_stream"
"""A module only the package's `__init__` imports (a destination never needs it)."""

IDENT = """
import json, sys, types
def ident(value):
    if isinstance(value, types.ModuleType):
        return "module " + value.__name__
    name = getattr(value, "__qualname__", None) or repr(value)[:80]
    return f"{type(value).__name__} {getattr(value, '__module__', '')}.{name}"
"""

DESCRIBE = IDENT + """
import airbyte_cdk
exported = {n: ident(getattr(airbyte_cdk, n, None)) for n in airbyte_cdk.__all__}
public = {n: ident(v) for n, v in vars(airbyte_cdk).items() if not n.startswith("__")}
print(json.dumps({"all": exported, "public": public, "version": airbyte_cdk.__version__,
                  "hook": "__getattr__" in vars(airbyte_cdk)}))
"""


def python(code: str, eager: bool = False, interpreter: str = sys.executable) -> str:
    env = {k: v for k, v in os.environ.items() if k != EAGER_ENV}
    if eager:
        env[EAGER_ENV] = "1"
    done = subprocess.run(
        [interpreter, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def described(interpreter: str, first: str, eager: bool = False) -> dict[str, Any]:
    code = f"import flow_sdk.airbyte\n{first}\n{DESCRIBE}"
    return json.loads(python(code, eager, interpreter))


@pytest.fixture(params=["cdk7", "cdk6", "cdk4"])
def interpreter(request: pytest.FixtureRequest) -> str:
    """This workspace's Python (airbyte-cdk 7), or another generation's with this flow-sdk."""
    if request.param == "cdk7":
        return sys.executable
    return str(request.getfixturevalue(f"{request.param}_python"))


def test_a_destination_import_leaves_the_framework_unloaded_and_the_switch_loads_it() -> None:
    probe = f"""
        import sys, flow_sdk.airbyte
        import airbyte_cdk.destinations, airbyte_cdk.models
        print({DECLARATIVE!r} in sys.modules, sum(m.startswith("airbyte_cdk") for m in sys.modules))
    """
    deferred, deferred_count = python(probe).split()
    eager, eager_count = python(probe, eager=True).split()
    assert (deferred, eager) == ("False", "True")
    assert int(deferred_count) * 3 < int(eager_count)


def test_after_first_use_the_package_is_the_stock_one(interpreter: str) -> None:
    stock = described(interpreter, "", eager=True)
    assert stock["hook"] is False
    for first in (
        "import airbyte_cdk.destinations",  # a submodule, then the package's own names
        "from airbyte_cdk import AbstractSource",  # a name, first thing
        "import airbyte_cdk; airbyte_cdk.__version__",  # a name set by the code of __init__
        # airbyte-cdk 6: deep in the declarative framework, it asks the package for
        # `AbstractSource` while it is itself being imported
        "import airbyte_cdk.sources.declarative.checks.connection_checker",
        # airbyte-cdk ≥ 6: the same for `OneOfOptionConfig`
        "import importlib.util\nif importlib.util.find_spec('airbyte_cdk.sources.specs'):\n"
        "    import airbyte_cdk.sources.specs.transfer_modes",
    ):
        assert described(interpreter, first) == stock, first


def test_each_imported_name_alone_is_the_stock_object(interpreter: str) -> None:
    """Every name the `__init__` imports, asked for one by one, is the object the stock
    package has, and the `__init__` itself has not run (its hook is still there)."""
    stock = described(interpreter, "", eager=True)
    each = """
import flow_sdk.airbyte, airbyte_cdk
from flow_sdk.airbyte.deferred_cdk_root import imported_names
with open(airbyte_cdk.__spec__.origin) as f:
    names = imported_names(f.read(), "airbyte_cdk")
got = {n: ident(getattr(airbyte_cdk, n)) for n in names}
print(json.dumps({"got": got, "hook": "__getattr__" in vars(airbyte_cdk)}))
"""
    out = python(IDENT + each, interpreter=interpreter)
    answer = json.loads(out)
    assert answer["hook"] is True
    assert len(answer["got"]) > 3
    for name, ident in answer["got"].items():
        assert stock["public"].get(name, ident) == ident, name


def test_submodules_by_attribute_and_unknown_names() -> None:
    out = python(f"""
        import sys, flow_sdk.airbyte, airbyte_cdk
        models = airbyte_cdk.models  # a submodule: imported, the package left as it is
        print(models.__name__, {DECLARATIVE!r} in sys.modules)
        try:
            from airbyte_cdk import NoSuchName
        except ImportError as exc:
            print(type(exc).__name__, "NoSuchName" in str(exc), {DECLARATIVE!r} in sys.modules)
    """)
    assert out.split() == ["airbyte_cdk.models", "False", "ImportError", "True", "True"]


def test_threads_asking_at_once_all_get_the_name() -> None:
    out = python("""
        import threading, flow_sdk.airbyte, airbyte_cdk
        got = []
        def ask():
            from airbyte_cdk import AirbyteEntrypoint, Destination
            got.append((AirbyteEntrypoint.__name__, Destination.__name__))
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(len(got), len(set(got)))
    """)
    assert out.split() == ["8", "1"]


def test_too_late_changes_nothing() -> None:
    import airbyte_cdk

    assert install() is False
    assert sys.modules["airbyte_cdk"] is airbyte_cdk


def test_where_each_imported_name_comes_from() -> None:
    source = textwrap.dedent("""
        import dunamai as _dunamai
        import os
        from importlib import metadata
        from . import models
        from .sources import AbstractSource as Base, Source
        from .utils.constants import *
        try:
            from .extra import Optional
        except ImportError:
            Optional = None
        __version__ = "1"
    """)
    assert imported_names(source, "pkg") == {
        "_dunamai": ("dunamai", None),
        "metadata": ("importlib", "metadata"),
        "Base": ("pkg.sources", "AbstractSource"),
        "Source": ("pkg.sources", "Source"),
    }
