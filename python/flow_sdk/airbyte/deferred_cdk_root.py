"""airbyte-cdk's start-up, cheaper still: its top-level package's names imported on first use.

`airbyte_cdk/__init__.py` (airbyte-cdk 4 to 7) imports most of the CDK, the declarative
framework and file-based streams included, to offer short names such as
`airbyte_cdk.AbstractSource`. Importing any submodule runs it first, so a connector that
imports only what it uses (`airbyte_cdk.destinations`, `airbyte_cdk.sources.streams`,
`airbyte_cdk.models`) still pays for all of it: ~0.6 s of destination-kvdb's start-up and
~0.8 s of source-bigdata's (`bench/connector_startup.py`), at every launch.

`install()` registers the package without running its `__init__`: its spec and `__path__`
are set, so submodules import exactly as before (each runs its own `__init__`), and a module
`__getattr__` answers the package's own names. A name the `__init__` imports (`from
.sources import AbstractSource`, read from its syntax tree once) is imported from where the
`__init__` takes it, alone, so a CDK module that asks the package for a name while it is
itself being imported (`from airbyte_cdk import AbstractSource` in the declarative checks)
gets it as with the stock package; a submodule's name imports that submodule; any other name
(`__version__`, `__all__`, a name the package lacks) runs the whole `__init__` in place,
once, after which the package is the stock one. Importing `flow_sdk.airbyte` installs it, so
a connector's entry point imports flow-sdk's shim before airbyte-cdk; where airbyte-cdk is
already imported, or `FLOW_SDK_EAGER_AIRBYTE_CDK=1`, it changes nothing.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import threading
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

PACKAGE = "airbyte_cdk"
EAGER_ENV = "FLOW_SDK_EAGER_AIRBYTE_CDK"


def imported_names(source: str, package: str) -> dict[str, tuple[str, str | None]]:
    """name → (module, attribute or None for the module itself) for every top-level import
    statement of a package's `__init__` source: where each of those names comes from."""
    names: dict[str, tuple[str, str | None]] = {}
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.ImportFrom):
            if statement.level > 1 or (statement.level == 1 and not statement.module):
                continue  # `from . import x`: a submodule, or a name only the code can tell
            module = statement.module or ""
            if statement.level == 1:
                module = f"{package}.{module}"
            for alias in statement.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = (module, alias.name)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    names[alias.asname] = (alias.name, None)
    return names


def _imported(module_name: str, attribute: str | None) -> Any:
    """What `import module_name` (attribute None) or `from module_name import attribute`
    binds: an attribute the module lacks is its submodule of that name, as `from` has it."""
    module = importlib.import_module(module_name)
    if attribute is None:
        return module
    try:
        return getattr(module, attribute)
    except AttributeError:
        return importlib.import_module(f"{module_name}.{attribute}")


class _NamesOnFirstUse:
    """The deferred package's `__getattr__`."""

    def __init__(self, package: ModuleType, spec: ModuleSpec) -> None:
        self.package = package
        self.spec = spec
        self.lock = threading.RLock()
        self.running_init = False
        self._sources: dict[str, tuple[str, str | None]] | None = None

    def sources(self) -> dict[str, tuple[str, str | None]]:
        if self._sources is None:
            origin = self.spec.origin or ""
            with open(origin, encoding="utf-8") as file:
                self._sources = imported_names(file.read(), PACKAGE)
        return self._sources

    def __call__(self, name: str) -> Any:
        # Imports take their own locks; only running the whole `__init__` takes this one.
        origin = self.sources().get(name)
        if origin is not None:
            value = _imported(*origin)
            setattr(self.package, name, value)
            return value
        if importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
            return importlib.import_module(f"{PACKAGE}.{name}")
        with self.lock:  # another thread running the `__init__`: wait for it
            if self.running_init:  # asked by the `__init__` itself, before it binds `name`
                raise AttributeError(f"partially initialized module {PACKAGE!r} has no {name!r}")
            if "__getattr__" in vars(self.package):
                self.initialize()
        return getattr(self.package, name)

    def initialize(self) -> None:
        """Run the package's `__init__` in place; afterwards it is the stock package."""
        assert self.spec.loader is not None  # checked by install()
        self.running_init = True
        try:
            self.spec.loader.exec_module(self.package)
            vars(self.package).pop("__getattr__", None)
        finally:
            self.running_init = False


def install() -> bool:
    """Register airbyte-cdk's package with its names deferred; whether it was."""
    if os.environ.get(EAGER_ENV) == "1" or PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    if not spec.origin or not spec.origin.endswith(".py"):
        return False
    package = importlib.util.module_from_spec(spec)
    package.__getattr__ = _NamesOnFirstUse(package, spec)  # type: ignore[method-assign]
    sys.modules[PACKAGE] = package
    return True
