"""How reloads merge: a reloaded parent's children replace its old ones, by parent id alone,
also in a warehouse whose child keys an older version declared as dlt primary keys."""

from __future__ import annotations

from pathlib import Path

import dlt
import duckdb

from stripe_assets.settings import StripeSettings
from stripe_assets.source import CreatedWindow
from stripe_assets_tests.conftest import (
    DAILY,
    TEST_PIPELINE,
    Warehouse,
    day_window,
    load_window,
)

CHILDREN = [t for t in DAILY if t.child]


def _load(sandbox, db: Path, day: str) -> dlt.Pipeline:
    settings = StripeSettings.resolve(api_key=sandbox.api_key, api_base=sandbox.base_url)
    return load_window(db, CreatedWindow(*day_window(day)), settings)


def test_reload_replaces_each_parents_children(sandbox, busy_day, tmp_path):
    db = tmp_path / "w.duckdb"
    _load(sandbox, db, busy_day)
    truth = {
        t.name: n for t, n in ((t, sandbox.counts(*day_window(busy_day))[t.name]) for t in DAILY)
    }
    assert Warehouse(db).counts() == truth and all(truth[t.name] for t in CHILDREN)
    # Children Stripe no longer lists (a removed line, item or transaction): rows that a
    # reload of their parent must take away.
    with duckdb.connect(str(db)) as con:
        for table in CHILDREN:
            column = table.child.parent_column
            con.execute(
                f"insert into stripe.{table.name} (id, {column}, _dlt_load_id, _dlt_id) "
                f"select 'removed_' || {column}, {column}, 'x', 'removed_' || {column} "
                f"from (select distinct {column} from stripe.{table.name} limit 3)"
            )
    assert Warehouse(db).counts() != truth
    pipeline = _load(sandbox, db, busy_day)
    assert Warehouse(db).counts() == truth
    for table in CHILDREN:  # merged on the parent id alone (see source/hints.py)
        columns = pipeline.default_schema.get_table_columns(table.name)
        assert not [c for c in columns.values() if c.get("primary_key")], table.name
        assert columns[table.child.parent_column].get("merge_key")


def test_reload_migrates_child_primary_keys_of_an_older_warehouse(sandbox, busy_day, tmp_path):
    db = tmp_path / "old.duckdb"
    old = dlt.pipeline(
        pipeline_name=TEST_PIPELINE,
        pipelines_dir=str(tmp_path / "old"),
        destination=dlt.destinations.duckdb(credentials=str(db)),
        dataset_name="stripe",
    )
    resources = []
    for table in CHILDREN:  # what versions before this one declared
        column = table.child.parent_column
        row = {"id": "old_1", column: "parent_old", "amount": 1}
        resources.append(
            dlt.resource([row], name=table.name, primary_key=[column, "id"], merge_key=column,
                         write_disposition={"disposition": "merge", "strategy": "delete-insert"})
        )  # fmt: skip

    @dlt.source(name="stripe", max_table_nesting=0)
    def stripe():
        return resources

    old.run(stripe())
    pipeline = _load(sandbox, db, busy_day)  # a fresh working dir: the schema comes from the db
    for table in CHILDREN:
        columns = pipeline.default_schema.get_table_columns(table.name)
        assert not [c for c in columns.values() if c.get("primary_key")], table.name
    truth = sandbox.counts(*day_window(busy_day))
    assert {t: n - 1 for t, n in Warehouse(db).counts().items() if t in truth and any(
        c.name == t for c in CHILDREN)} == {c.name: truth[c.name] for c in CHILDREN}  # fmt: skip
