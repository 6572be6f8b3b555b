"""flow_sdk.airbyte.attribute_docs: the same attribute docstrings as attributes_doc, class by
class, for every class airbyte-cdk's serializers describe and for the awkward shapes
(nested, local, decorated, inherited, f-string docs, no source); installed before serpyco-rs
loads, so a wrapped connector's airbyte-cdk import uses it."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import airbyte_cdk.models
import attributes_doc._base
import pytest

from flow_sdk.airbyte.attribute_docs import attribute_docs

stock = attributes_doc._base.get_attributes_doc


def answer(docs: object, cls: type) -> object:
    try:
        return docs(cls)  # type: ignore[operator]
    except Exception as exc:  # the same failure counts as the same answer
        return type(exc)


def cdk_classes() -> list[type]:
    import airbyte_protocol_dataclasses.models as protocol

    found = {}
    for module in (airbyte_cdk.models, protocol):
        for value in vars(module).values():
            if inspect.isclass(value) and (
                dataclasses.is_dataclass(value) or issubclass(value, enum.Enum)
            ):
                found[id(value)] = value
    return list(found.values())


def test_every_class_of_the_cdk_models_gets_the_stock_answer() -> None:
    classes = cdk_classes()
    assert len(classes) > 40
    for cls in classes:  # the protocol's classes document no attribute (the shapes below do)
        assert answer(attribute_docs, cls) == answer(stock, cls), cls


SHAPES = '''
import dataclasses, enum

class Base:
    a: int = 1
    """a from Base"""
    b = 2
    """b from Base"""

@dataclasses.dataclass
class Child(Base):
    a: int = 3
    """a from Child"""
    c: str = ""
    x = y = 4
    """two names"""
    d: int = 0
    42

class Outer:
    class Inner:
        z: int = 0
        """nested"""

def factory():
    class Local:
        w: int = 0
        """local"""
    return Local

class Colour(enum.Enum):
    RED = "red"
    """the red one"""

class Formatted:
    name = "n"
    f"""{name} formatted"""

Made = type("Made", (Base,), {})
'''


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, type]:
    directory = tmp_path_factory.mktemp("shapes")
    (directory / "doc_shapes.py").write_text(textwrap.dedent(SHAPES))
    sys.path.insert(0, str(directory))
    try:
        import doc_shapes
    finally:
        sys.path.remove(str(directory))
    return {
        "Base": doc_shapes.Base,
        "Child": doc_shapes.Child,
        "Inner": doc_shapes.Outer.Inner,
        "Local": doc_shapes.factory(),
        "Colour": doc_shapes.Colour,
        "Formatted": doc_shapes.Formatted,
        "Made": doc_shapes.Made,
        "int": int,
    }


def test_awkward_shapes_get_the_stock_answer(shapes: dict[str, type]) -> None:
    for name, cls in shapes.items():
        assert answer(attribute_docs, cls) == answer(stock, cls), name
    assert attribute_docs(shapes["Child"]) == {
        "a": "a from Child",
        "b": "b from Base",
        "x": "two names",
        "y": "two names",
    }
    assert attribute_docs(shapes["Local"]) == {"w": "local"}
    assert attribute_docs(shapes["Made"]) == {"a": "a from Base", "b": "b from Base"}
    assert answer(attribute_docs, shapes["Formatted"]) is attributes_doc._base.FStringFound


PROBE = """
import sys, time
started = time.perf_counter()
import flow_sdk.airbyte
import airbyte_cdk.models
import serpyco_rs._utils as utils
print(utils._get_attributes_doc.__module__, time.perf_counter() - started)
"""


def probe(**env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=Path(__file__).parent,
        check=True,
    )
    return done.stdout.split()[0]


def test_importing_the_shim_first_installs_it_and_the_switch_keeps_the_stock_one() -> None:
    assert probe() == "flow_sdk.airbyte.attribute_docs"
    assert probe(FLOW_SDK_STOCK_ATTRIBUTE_DOCS="1") == "attributes_doc._base"


def test_too_late_changes_nothing() -> None:
    from flow_sdk.airbyte.attribute_docs import install

    assert "serpyco_rs" in sys.modules  # airbyte_cdk.models is loaded here
    assert install() is False
