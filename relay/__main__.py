"""`python -m relay serve ...`: the relay without the hub's CLI (the relay image uses this)."""

from __future__ import annotations

import argparse
import logging
import sys

from relay import logjson
from relay.cli import register


def main(argv: list[str] | None = None) -> int:
    """Parse and run one relay command."""
    parser = argparse.ArgumentParser(prog="python -m relay")
    sub = parser.add_subparsers(metavar="COMMAND", required=True)
    register(sub)
    # `relay` is the only command; let `python -m relay serve` skip the word.
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] != "relay":
        args_in.insert(0, "relay")
    args = parser.parse_args(args_in)
    logjson.configure(getattr(args, "log_format", "text"), logging.INFO)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
