"""The ``rumor`` command line: ``rumor demo`` (also ``python -m rumor demo``)."""

from __future__ import annotations

import argparse

from rumor import demo

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rumor",
        description="rumor: gossip-based cluster membership and failure detection.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo_parser = commands.add_parser(
        "demo",
        help="run an 8-node cluster on loopback and watch a crash being detected",
        description=(
            "Start an in-process cluster on 127.0.0.1, crash one node, and show "
            "when every survivor suspected it and declared it failed."
        ),
    )
    demo.add_arguments(demo_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo.run(nodes=args.nodes, probe_interval=args.probe_interval)
    parser.print_help()
    return 2
