"""`stripe-assets` command: `sandbox` (local Stripe), `demo` (the whole job end to end),
`dev` (sandbox + Dagster UI), `materialize` (a checked partition or range, then `dagster
asset materialize`)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

DEFAULT_SELECT = 'key:"stripe/*"'
BAD_INPUT_EXIT_CODE = 2


def materialize_main(argv: list[str]) -> int:
    """`stripe-assets materialize`: check the partition key or range against the daily
    partitions, then become `dagster asset materialize` (same environment, its exit code).
    Bad input prints one message naming the fix and returns 2, before Dagster starts."""
    parser = argparse.ArgumentParser(
        prog="stripe-assets materialize",
        description="Materialize Stripe assets for one daily partition (UTC) or a range.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--partition", metavar="YYYY-MM-DD", help="one UTC day")
    which.add_argument(
        "--partition-range", metavar="START...END", help="UTC days, both included, in one run"
    )
    parser.add_argument(
        "--select", default=DEFAULT_SELECT, help="Dagster asset selection (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    from stripe_assets.partitions import (
        RANGE_SEPARATOR,
        BadPartitionError,
        check_partition_key,
        check_partition_range,
    )

    try:
        if args.partition is not None:
            partition = ["--partition", check_partition_key(args.partition)]
        else:
            first, last = check_partition_range(args.partition_range)
            partition = ["--partition-range", f"{first}{RANGE_SEPARATOR}{last}"]
    except BadPartitionError as exc:
        print(f"stripe-assets materialize: {exc}", file=sys.stderr)
        return BAD_INPUT_EXIT_CODE
    command = [
        sys.executable, "-m", "dagster", "asset", "materialize",
        "-m", "stripe_assets.definitions", "--select", args.select, *partition,
    ]  # fmt: skip
    print(f"Running: {shlex.join(command)}", flush=True)
    sys.stderr.flush()
    os.execv(sys.executable, command)  # signals and the exit code are Dagster's own


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="stripe-assets", description=__doc__)
    parser.add_argument("command", choices=["sandbox", "demo", "dev", "materialize"])
    args, rest = parser.parse_known_args(argv[:1])
    rest = argv[1:]
    if args.command == "sandbox":
        from stripe_assets.sandbox.cli import main as sandbox_main

        sandbox_main(rest)
    elif args.command == "demo":
        from stripe_assets.demo import main as demo_main

        demo_main(rest)
    elif args.command == "materialize":
        sys.exit(materialize_main(rest))
    else:
        from stripe_assets.demo import dev_main

        dev_main(rest)


if __name__ == "__main__":
    main()
