"""What a user sees of a command-line run (`stripe-assets demo`): Dagster's console at INFO
(our per-table progress and summary lines, shortened to time and message), the run's full
event log written to a file, and one summary line from the instance.

Dagster's console logger prints every event at DEBUG by default: about 25 lines per table and
day (a "Materialized value" per asset and partition, a line per check), thousands for a year.
Its level is Dagster run config (`loggers.console.config.log_level`); the event log itself
keeps everything, so the file is written from the instance after the run.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from dagster import DagsterInstance

CONSOLE_AT_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
"""Run config: Dagster's console logger shows INFO and above (the event log keeps all)."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# `2024-05-01 08:21:27 +0000 - dagster - INFO - __ASSET_JOB - <run id> - stripe - message`
_CONSOLE_LINE = re.compile(
    r"^\d{4}-\d{2}-\d{2} (?P<time>\d{2}:\d{2}:\d{2}) [+-]\d{4} - dagster - (?P<level>[A-Z]+) - "
    r"\S+ - [0-9a-f-]{36} - (?:(?P<step>[\w.\[\]-]+) - )?(?P<message>.*)$"
)


def shorten(line: str) -> str:
    """A Dagster console line as `HH:MM:SS message` (level shown unless INFO); any other
    line (a message's continuation, a warning, a traceback) unchanged."""
    line = _ANSI.sub("", line.rstrip("\n"))
    match = _CONSOLE_LINE.match(line)
    if match is None:
        return line
    level = "" if match["level"] == "INFO" else f"{match['level']} "
    return f"{match['time']} {level}{match['message']}"


def run_streaming(
    command: Sequence[str], env: dict[str, str], cwd: Path, out: TextIO = sys.stdout
) -> int:
    """Run `command`, echoing its stdout and stderr line by line (shortened) as they come."""
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, text=True, bufsize=1, errors="replace",
    )  # fmt: skip
    assert process.stdout is not None
    with process.stdout:
        for line in process.stdout:
            print(f"  {shorten(line)}", file=out, flush=True)
    return process.wait()


def _format(entry) -> str:
    stamp = datetime.fromtimestamp(entry.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    kind = entry.dagster_event_type.name if entry.dagster_event_type else "LOG"
    fields = [stamp, logging.getLevelName(entry.level), entry.job_name or "", entry.run_id]
    return " - ".join([*fields, entry.step_key or "", kind, entry.message])


def write_event_log(instance: DagsterInstance, path: Path) -> list[str]:
    """Every event and log message of every run of `instance`, oldest first, one line each
    (multi-line messages indented), into `path`. Returns the run ids."""
    runs = sorted(instance.get_runs(), key=lambda run: run.run_id)
    with path.open("w") as out:
        for run in runs:
            for entry in instance.all_logs(run.run_id):
                out.write(_format(entry).replace("\n", "\n    ") + "\n")
    return [run.run_id for run in runs]


def run_summary(instance: DagsterInstance) -> str:
    """`1 run: SUCCESS; 56 materializations of 8 assets; asset checks: 24 passed` (failed
    checks by name)."""
    from dagster import DagsterEventType

    runs = instance.get_runs()
    statuses = Counter(run.status.value for run in runs)
    materialized: Counter[str] = Counter()
    passed, failed = 0, []
    for run in runs:
        for entry in instance.all_logs(run.run_id):
            if entry.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION:
                materialized[entry.asset_materialization.asset_key.to_user_string()] += 1
            elif entry.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                check = entry.asset_check_evaluation
                if check.passed:
                    passed += 1
                else:
                    failed.append(f"{check.asset_key.to_user_string()}:{check.check_name}")
    status = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "none"
    text = (
        f"{len(runs)} run{'s' * (len(runs) != 1)}: {status}; "
        f"{sum(materialized.values())} materializations of {len(materialized)} assets; "
        f"asset checks: {passed} passed"
    )
    return text + (f", {len(failed)} failed ({', '.join(sorted(failed))})" if failed else "")
