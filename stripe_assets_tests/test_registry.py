"""The registry agrees with Stripe's spec, and everything derived from it follows it: the
README's table list, the events sensor's map, deletions, checks and asset lineage."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from stripe_assets import docs
from stripe_assets.sandbox import spec as shipped
from stripe_assets.tables import TABLES, TABLES_BY_NAME, StripeTable
from stripe_assets_tests.sandbox_fixtures import SHARED, require_shared

SPEC_DIR = SHARED / "stripe-openapi"


@cache
def full_spec() -> dict[str, Any]:
    require_shared()
    return json.loads((SPEC_DIR / "spec3.json").read_text())


def _spec_op(path: str) -> dict[str, Any]:
    import re

    want = re.sub(r"\{\w+\}", "{}", path)
    for candidate, item in full_spec()["paths"].items():
        if re.sub(r"\{\w+\}", "{}", candidate) == want and "get" in item:
            return item["get"]
    raise AssertionError(f"{path} is not a GET path of Stripe's spec")


def _query_params(path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in _spec_op(path).get("parameters", []) if p["in"] == "query"}


def _event_types() -> set[str]:
    post = full_spec()["paths"]["/v1/webhook_endpoints"]["post"]
    form = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    return set(form["properties"]["enabled_events"]["items"]["enum"])


@pytest.mark.parametrize("entry", TABLES, ids=lambda t: t.name)
def test_entry_matches_stripes_spec(entry: StripeTable) -> None:
    op = _spec_op(entry.path)
    item = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    items = item["data"]["items"]
    refs = [items["$ref"]] if "$ref" in items else [x["$ref"] for x in items.get("anyOf", [])]
    assert refs and refs[0].endswith(f"/{entry.object}"), entry.path  # (first of a polymorphic)
    params = _query_params(entry.path)
    if not entry.is_child:  # (a child list is read whole, per parent)
        assert ("created" in params) == entry.created_filter, entry.name
    assert set(entry.params) <= set(params)
    if entry.child is not None:
        assert set(entry.child.params) <= set(params)
        if entry.child.embedded_field:
            parent = TABLES_BY_NAME[entry.child.parent].object
            embedded = full_spec()["components"]["schemas"][parent]["properties"]
            assert entry.child.embedded_field in embedded
    properties = full_spec()["components"]["schemas"][entry.object]["properties"]
    if not entry.is_child:
        assert entry.created_field in properties
    for column in entry.columns:
        tagged = entry.child.parent_column if entry.child else None
        assert column in properties or column == tagged, (entry.name, column)
    assert set(entry.events) <= _event_types(), entry.name
    if entry.deleted_event:
        assert entry.deleted_event in entry.events
    for ref in entry.refs:
        assert ref.field in properties, (entry.name, ref.field)
        assert ref.table in TABLES_BY_NAME


def test_shipped_spec_subset_is_derived_from_the_spec() -> None:
    subset = shipped.derive(full_spec())
    assert shipped._subset() == json.loads(json.dumps(subset)), (
        "stripe_assets/sandbox/stripe_openapi/spec_subset.json is stale: run "
        "`python -m stripe_assets.sandbox.spec ../shared/stripe-openapi`"
    )
    fixtures = json.loads((SPEC_DIR / "fixtures3.json").read_text())["resources"]
    for entry in TABLES:
        assert shipped.fixture(entry.object) == fixtures[entry.object]


def test_readme_lists_exactly_the_registry() -> None:
    section = docs.readme_section(docs.README.read_text())
    assert section is not None, "README.md lacks the generated table list"
    assert section == docs.generated_section(), (
        "README's table list is stale: run `python -m stripe_assets.docs --write`"
    )
    for entry in TABLES:
        assert f"`{entry.name}`" in section


def test_everything_else_derives_from_the_registry() -> None:
    from stripe_assets.assets import stripe_catalog, stripe_tables
    from stripe_assets.checks import stripe_table_checks
    from stripe_assets.events import DELETION_EVENTS, OBJECT_TABLES

    assert stripe_catalog is not None
    specs = {**stripe_tables.specs_by_key, **stripe_catalog.specs_by_key}
    keys = {key.path[-1]: key for key in specs}
    assert set(keys) == set(TABLES_BY_NAME)
    assert {k.path[-1] for k in stripe_catalog.keys} == {t.name for t in TABLES if t.snapshot}
    for entry in TABLES:
        deps = {d.asset_key.path[-1] for d in specs[keys[entry.name]].deps}
        assert deps == ({entry.child.parent} if entry.child else set()), entry.name
        if entry.events and not entry.is_child:
            assert OBJECT_TABLES[entry.object] == entry.name
    assert {t.deleted_event: t.name for t in TABLES if t.deleted_event} == DELETION_EVENTS
    checked = {key.asset_key.path[-1] for key in stripe_table_checks.check_keys}
    assert checked == set(TABLES_BY_NAME)
