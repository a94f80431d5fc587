"""A run talks to Stripe (here the loopback sandbox) and the warehouse only: no telemetry or
other host is looked up or connected to (dlt sends usage events by default; we turn them off).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RUN_ONE_PARTITION = """
import json, sys
hosts, connects = [], []
def audit(event, args):
    if event == "socket.getaddrinfo":
        hosts.append(str(args[0]))
    elif event == "socket.connect":
        connects.append(args[1] if isinstance(args[1], str) else list(args[1])[:2])
sys.addaudithook(audit)
from dagster import instance_for_test, materialize
from stripe_assets.assets import stripe_tables
from stripe_assets.definitions import defs
with instance_for_test() as instance:
    result = materialize([stripe_tables], partition_key="2024-05-03", instance=instance,
                         resources=defs.resources)
print(json.dumps({"success": result.success, "hosts": hosts, "connects": connects}))
"""

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def test_a_run_contacts_no_host_but_the_sandbox(stripe_env, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNTIME__")}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_ONE_PARTITION],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["success"]
    assert stripe_env.count("charges") > 0
    assert seen["connects"], "the run should have connected to the sandbox"
    assert set(seen["hosts"]) <= LOOPBACK, seen["hosts"]
    tcp = [c for c in seen["connects"] if isinstance(c, list)]
    assert {host for host, _port in tcp} <= LOOPBACK, tcp
