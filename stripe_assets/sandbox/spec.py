"""What the sandbox knows of Stripe's own description, shipped as package data.

``stripe_openapi/`` holds Stripe's example objects (``fixtures3.json``, one per resource) and
``spec_subset.json``, the part of Stripe's OpenAPI spec the sandbox serves by: per GET path its
object type, whether it is a list and its query parameters; per object schema its expandable
properties, embedded lists and string enums. Both come from github.com/stripe/openapi
(MIT licence, ``stripe_openapi/LICENSE``); the subset is derived, never edited:

    python -m stripe_assets.sandbox.spec ../shared/stripe-openapi   # rewrites spec_subset.json

A test checks that the shipped subset is what this derivation gives from the full spec.
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

PACKAGE_DATA = "stripe_openapi"
SUBSET_FILE = "spec_subset.json"
FIXTURES_FILE = "fixtures3.json"
_REF = "#/components/schemas/"


@dataclass(frozen=True)
class Param:
    """One query parameter of a GET path."""

    name: str
    required: bool = False
    range: bool = False
    """Takes ``name[gt|gte|lt|lte]`` (``created``, ``arrival_date``, ...)."""
    enum: tuple[str, ...] = ()
    array: bool = False
    """Takes ``name[]=a&name[]=b`` (``types``, ``expand``, ``lookup_keys``)."""


@dataclass(frozen=True)
class Operation:
    """A GET path: the object type it returns (in a list or alone) and its parameters."""

    path: str
    object: str
    is_list: bool
    params: dict[str, Param]


def _read(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath(PACKAGE_DATA, name).read_bytes())


@cache
def _subset() -> dict[str, Any]:
    return _read(SUBSET_FILE)


@cache
def _fixtures() -> dict[str, Any]:
    return _read(FIXTURES_FILE)["resources"]


def fixture(object_type: str) -> dict[str, Any]:
    """A fresh copy of Stripe's example object of a type (``charge``, ``checkout.session``)."""
    return copy.deepcopy(_fixtures()[object_type])


def has_fixture(object_type: str) -> bool:
    return object_type in _fixtures()


@cache
def operations() -> dict[str, Operation]:
    """Every GET path of the spec that returns an object or a list of objects."""
    out = {}
    for path, op in _subset()["paths"].items():
        params = {name: Param(name=name, **spec) for name, spec in op["params"].items()}
        out[path] = Operation(path, op["object"], op["list"], params)
    return out


def schema(object_type: str) -> dict[str, Any]:
    """The subset of one object schema: ``expandable`` (property -> object types),
    ``lists`` (embedded list property -> item type), ``enums``, ``required``, ``nullable``."""
    return _subset()["schemas"].get(object_type, {})


def expandable(object_type: str) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in schema(object_type).get("expandable", {}).items()}


def embedded_lists(object_type: str) -> dict[str, str]:
    return dict(schema(object_type).get("lists", {}))


def nullable(object_type: str) -> frozenset[str]:
    return frozenset(schema(object_type).get("nullable", ()))


def omitted_when_null(object_type: str) -> frozenset[str]:
    """Properties Stripe leaves out of an object rather than setting them to null."""
    return frozenset(schema(object_type).get("optional", ()))


def enum(object_type: str, prop: str) -> tuple[str, ...]:
    return tuple(schema(object_type).get("enums", {}).get(prop, ()))


# -- deriving the subset from the full spec ---------------------------------------------------


def _ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref", "")
    return ref[len(_REF) :] if ref.startswith(_REF) else None


def _response_object(op: dict[str, Any]) -> tuple[str, bool] | None:
    schema_ = op.get("responses", {}).get("200", {}).get("content", {})
    schema_ = schema_.get("application/json", {}).get("schema", {})
    name = _ref_name(schema_) or next(
        (n for n in map(_ref_name, schema_.get("anyOf", [])) if n), None
    )
    if name:
        return name, False
    items = schema_.get("properties", {}).get("data", {}).get("items", {})
    name = _ref_name(items) or next(  # a polymorphic list: its first type (bank_account)
        (n for n in map(_ref_name, items.get("anyOf", [])) if n), None
    )
    if name and schema_.get("properties", {}).get("object", {}).get("enum") == ["list"]:
        return name, True
    return None


def _param(spec: dict[str, Any]) -> dict[str, Any]:
    schema_ = spec.get("schema", {})
    out: dict[str, Any] = {}
    if spec.get("required"):
        out["required"] = True
    variants = schema_.get("anyOf", [schema_])
    if any(v.get("title") == "range_query_specs" for v in variants):
        out["range"] = True
    if schema_.get("type") == "array":
        out["array"] = True
    values = schema_.get("enum")
    if values and all(isinstance(v, str) for v in values):
        out["enum"] = sorted(values)
    return out


def _schema_info(node: dict[str, Any]) -> dict[str, Any]:
    expandable_: dict[str, list[str]] = {}
    lists: dict[str, str] = {}
    enums: dict[str, list[str]] = {}
    for prop, spec in node.get("properties", {}).items():
        targets = spec.get("x-expansionResources", {}).get("oneOf", [])
        if targets:
            expandable_[prop] = [n for n in map(_ref_name, targets) if n]
        inner = spec.get("anyOf", [spec])
        for variant in inner:
            props = variant.get("properties", {})
            if props.get("object", {}).get("enum") == ["list"]:
                item = _ref_name(props.get("data", {}).get("items", {}))
                if item:
                    lists[prop] = item
        values = spec.get("enum")
        if values and all(isinstance(v, str) for v in values):
            enums[prop] = sorted(values)
    required = set(node.get("required", []))
    optional = sorted(
        p
        for p, s in node.get("properties", {}).items()
        if p not in required and not s.get("nullable")
    )
    nullable = sorted(p for p, s in node.get("properties", {}).items() if s.get("nullable"))
    info: dict[str, Any] = {}
    if optional:
        info["optional"] = optional
    if nullable:
        info["nullable"] = nullable
    if expandable_:
        info["expandable"] = expandable_
    if lists:
        info["lists"] = lists
    if enums:
        info["enums"] = enums
    return info


def derive(spec: dict[str, Any]) -> dict[str, Any]:
    """The subset the sandbox ships, from the full ``spec3.json``."""
    paths = {}
    for path, item in sorted(spec["paths"].items()):
        op = item.get("get")
        found = _response_object(op) if op else None
        if not found:
            continue
        params = {p["name"]: _param(p) for p in op.get("parameters", []) if p.get("in") == "query"}
        paths[path] = {"object": found[0], "list": found[1], "params": params}
    schemas = {}
    for name, node in sorted(spec["components"]["schemas"].items()):
        info = _schema_info(node)
        if info:
            schemas[name] = info
    return {
        "source": {
            "repository": "github.com/stripe/openapi",
            "licence": "MIT (see LICENSE)",
            "api_version": spec.get("info", {}).get("version"),
        },
        "paths": paths,
        "schemas": schemas,
    }


def main(argv: list[str]) -> int:
    """Rewrite ``spec_subset.json`` (and copy the fixtures) from a stripe/openapi folder."""
    if len(argv) != 1:
        print("usage: python -m stripe_assets.sandbox.spec <folder with spec3.json>")
        return 2
    source = Path(argv[0])
    subset = derive(json.loads((source / "spec3.json").read_text()))
    target = Path(__file__).with_name(PACKAGE_DATA)
    (target / SUBSET_FILE).write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    for name in (FIXTURES_FILE, "LICENSE"):
        (target / name).write_bytes((source / name).read_bytes())
    print(f"wrote {target / SUBSET_FILE}: {len(subset['paths'])} paths")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
