"""`stripe-assets` command: `sandbox` (local Stripe), `demo` (the whole job end to end),
`dev` (sandbox + Dagster UI)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="stripe-assets", description=__doc__)
    parser.add_argument("command", choices=["sandbox", "demo", "dev"])
    args, rest = parser.parse_known_args(argv[:1])
    rest = argv[1:]
    if args.command == "sandbox":
        from stripe_assets.sandbox.cli import main as sandbox_main

        sandbox_main(rest)
    elif args.command == "demo":
        from stripe_assets.demo import main as demo_main

        demo_main(rest)
    else:
        from stripe_assets.demo import dev_main

        dev_main(rest)


if __name__ == "__main__":
    main()
