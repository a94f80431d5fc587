"""`stripe-assets demo` (what `make demo` runs), as a user sees it: per-table progress and the
run's summary on the terminal, no wall of DEBUG lines, Dagster's full event log in a file
whose path it prints, and the count table against the sandbox's ground truth (which may lack
a table without failing)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

from stripe_assets.demo import _print_counts
from stripe_assets.tables import TABLES
from stripe_assets_tests.conftest import DAILY
from stripe_assets_tests.test_readme_commands import warnings_in

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(
    r"^Dagster: 1 run: 1 SUCCESS; (\d+) materializations of (\d+) assets; "
    r"asset checks: (\d+) passed$",
    re.M,
)


def test_demo_prints_progress_and_a_summary_and_writes_the_event_log(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DAGSTER_"))}
    out = subprocess.run(
        [str(Path(sys.executable).with_name("stripe-assets")), "demo", "--home", str(tmp_path),
         "--start", "2024-05-01", "--end", "2024-05-02", "--scale", "0.3"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    printed = out.stdout + out.stderr
    assert out.returncode == 0, printed[-4000:]
    assert warnings_in(printed) == [], printed
    lines = printed.splitlines()
    debug = re.compile(r" - DEBUG - |^\s*\d\d:\d\d:\d\d DEBUG ")  # as printed, or shortened
    assert not [line for line in lines if debug.search(line)], printed
    # About three lines per table (its summary, its count): the DEBUG stream is far longer.
    assert len(lines) <= 3 * len(TABLES) + 20, printed

    assert re.search(r"^  \d\d:\d\d:\d\d Loading \[", printed, re.M), printed
    assert re.search(r"^  \d\d:\d\d:\d\d extracted in [\d.]+s, \d+ requests", printed, re.M)
    summarized = set(re.findall(r"^    (\w+): pages=\d+ rows=\d+ requests=", printed, re.M))

    summary = SUMMARY.search(printed)
    assert summary, printed
    materializations, assets, checks = map(int, summary.groups())
    catalog = len(TABLES) - len(DAILY)  # snapshots: one materialization each, not per day
    assert (materializations, assets) == (2 * len(DAILY) + catalog, len(TABLES))
    assert checks >= 2 * len(TABLES)  # unique_key and no_null_keys on every table at least

    event_log = tmp_path / "dagster-events.log"
    assert f"Full event log (every event, DEBUG included): {event_log}" in printed
    logged = event_log.read_text()
    assert logged.count(" - ASSET_MATERIALIZATION - ") == materializations
    assert logged.count(" - DEBUG - ") > 3 * len(lines)  # what the terminal was spared
    assert " - RUN_SUCCESS - " in logged

    counted = {}
    for table in TABLES:
        row = re.search(rf"^{table.name}\s+([\d,]+)\s+([\d,]+)$", printed, re.M)
        assert row, f"{table.name} missing from the count table:\n{printed}"
        counted[table.name] = tuple(int(n.replace(",", "")) for n in row.groups())
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        for name, (rows, truth) in counted.items():
            assert rows == truth, (name, rows, truth)
            if rows:
                assert con.execute(f"select count(*) from stripe.{name}").fetchone()[0] == rows
                assert name in summarized, f"{name}: rows but no summary line\n{printed}"
    assert "MISMATCH" not in printed
    assert sum(rows > 0 for rows, _ in counted.values()) > len(TABLES) // 2


def test_count_table_without_ground_truth_or_rows_for_a_table(tmp_path, capsys):
    """A table the sandbox has no count for is `n/a` (not a crash), a table dlt never
    created counts 0, and a real difference still fails."""
    db = tmp_path / "warehouse.duckdb"
    first, second = TABLES[0].name, TABLES[1].name
    with duckdb.connect(str(db)) as con:
        con.execute(f"create schema stripe; create table stripe.{first} as select 1 as id")
    assert _print_counts(db, {first: 1, second: 0})
    printed = capsys.readouterr().out
    assert re.search(rf"^{TABLES[2].name}\s+0\s+n/a$", printed, re.M), printed
    assert f"the sandbox reports no count for {TABLES[2].name}" in printed
    assert re.search(rf"^{second}\s+0\s+0$", printed, re.M), printed
    assert not _print_counts(db, {first: 2})
    assert re.search(rf"^{first}\s+1\s+2  MISMATCH$", capsys.readouterr().out, re.M)
