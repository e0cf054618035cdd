"""`python -m ir_codes encode NEC --address 4 --command 8`: the `homehub ir` CLI without the hub."""

from __future__ import annotations

import argparse
import sys

from ir_codes.cli import register


def main(argv: list[str] | None = None) -> int:
    """Parse `ir` subcommand arguments and run them."""
    parser = argparse.ArgumentParser(prog="python -m ir_codes")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ir", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
