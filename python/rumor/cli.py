"""The ``rumor`` command line: ``rumor demo`` (also ``python -m rumor demo``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rumor",
        description="rumor: gossip-based cluster membership and failure detection.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    from rumor import demo

    demo_parser = commands.add_parser(
        "demo",
        help="run an 8-node cluster on loopback and watch a crash being detected",
        description=(demo.__doc__ or "").split("\n\n", 1)[0],
    )
    demo.add_arguments(demo_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(None if argv is None else list(argv))
    if args.command == "demo":
        from rumor import demo

        return demo.run(nodes=args.nodes, probe_interval=args.probe_interval)
    parser.print_help()
    return 2
