"""The ``rumor`` command line (also ``python -m rumor``): ``demo``, ``agent``,
``members``, ``broadcast``, ``join``, ``health`` and ``simulate``.

A mistake in the options is one line on stderr naming the flag and what it
allows, and exit status 2, before any work starts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from rumor import agent, demo
from rumor.scenarios import SCENARIOS, Spread

__all__ = ["main"]

HEALTH_TIMEOUT = 5.0
"""Seconds ``rumor health`` waits for the agent's answer, unless told otherwise."""


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

    agent_parser = commands.add_parser(
        "agent",
        help="run one node; print its events as JSON lines; leave on SIGTERM/SIGINT",
    )
    agent.add_arguments(agent_parser)

    members_parser = commands.add_parser(
        "members", help="list a running agent's members, one JSON object per line"
    )
    members_parser.add_argument("--agent", required=True, help="the agent's --control address")

    broadcast_parser = commands.add_parser("broadcast", help="broadcast through a running agent")
    broadcast_parser.add_argument("--agent", required=True, help="the agent's --control address")
    broadcast_parser.add_argument("payload", help="text to broadcast")

    join_parser = commands.add_parser(
        "join", help="make a running agent join a cluster through one or more seeds"
    )
    join_parser.add_argument("--agent", required=True, help="the agent's --control address")
    join_parser.add_argument(
        "--timeout",
        type=float,
        default=agent.JOIN_TIMEOUT,
        metavar="SECONDS",
        help=f"how long the agent waits for a seed to answer (default {agent.JOIN_TIMEOUT:g})",
    )
    join_parser.add_argument("seeds", nargs="+", metavar="SEED", help="seed host:port")

    health_parser = commands.add_parser(
        "health",
        help="exit 0 if an agent's node is alive and sees another live member, else 1",
        description=(
            "Asks a running agent whether its node is a live member that sees at least "
            "one other live member: exit status 0 if so, 1 otherwise (also when the agent "
            "cannot be reached), with a one-line reason. For systemd, Kubernetes probes "
            "and load balancers."
        ),
    )
    health_parser.add_argument("--agent", required=True, help="the agent's --control address")
    health_parser.add_argument(
        "--timeout",
        type=float,
        default=HEALTH_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the agent's answer (default {HEALTH_TIMEOUT:g})",
    )

    sim_parser = commands.add_parser(
        "simulate",
        help="simulate a join, a crash or a broadcast in virtual time; print or plot its spread",
        description=(
            "Simulates a scenario on a virtual network and prints when each tenth of the "
            "cluster had the news; --plot draws the curves, exact to the event, "
            "from the simulator's event log."
        ),
    )
    sim_parser.add_argument(
        "--scenario",
        default="join",
        metavar="|".join(SCENARIOS),
        help=(
            "join: every node joins through n0 at t = 0 (members known, summed over nodes); "
            "crash: the last node of a converged cluster crashes (survivors that suspect it, "
            "that hold it dead); broadcast: n0 broadcasts (nodes that delivered it). "
            "Default join"
        ),
    )
    sim_parser.add_argument("--nodes", type=int, default=100)
    sim_parser.add_argument(
        "--seconds",
        type=float,
        default=30.0,
        help="virtual seconds to run at most after the join, crash or broadcast (default 30)",
    )
    sim_parser.add_argument("--loss", type=float, default=0.0, help="packet loss, 0 to 1")
    sim_parser.add_argument("--seed", type=int, default=1)
    sim_parser.add_argument("--plot", metavar="FILE", help="save a plot (needs matplotlib)")
    return parser


def _ask(address: str, command: str, timeout: float = 10.0) -> int:
    try:
        answers = agent.request(address, command, timeout=timeout)
    except (OSError, ValueError) as e:
        print(f"rumor: cannot talk to the agent at {address}: {e}", file=sys.stderr)
        return 1
    failed = False
    for answer in answers:
        print(json.dumps(answer))
        failed = failed or "error" in answer
    return 1 if failed else 0


def _health(address: str, timeout: float) -> int:
    """0 and ``healthy: <reason>`` on stdout when the agent says its node is
    healthy; 1 and ``unhealthy: <reason>`` on stderr otherwise."""
    try:
        answers = agent.request(address, "health", timeout=timeout)
    except (OSError, ValueError) as e:
        print(f"unhealthy: cannot reach the agent at {address}: {e}", file=sys.stderr)
        return 1
    answer = answers[0] if len(answers) == 1 else {}
    if not isinstance(answer.get("healthy"), bool):
        said = answer.get("error") or f"an unexpected answer {answers!r}"
        print(f"unhealthy: the agent at {address} said {said}", file=sys.stderr)
        return 1
    if answer["healthy"]:
        print(f"healthy: {answer['reason']}")
        return 0
    print(f"unhealthy: {answer['reason']}", file=sys.stderr)
    return 1


def _simulate_mistake(args: argparse.Namespace) -> str | None:
    """The first mistake in ``rumor simulate``'s options, as one line."""
    if args.scenario not in SCENARIOS:
        return f"--scenario must be one of {', '.join(SCENARIOS)}, got {args.scenario!r}"
    if args.nodes < 1:
        return f"--nodes must be at least 1, got {args.nodes}"
    if args.scenario == "crash" and args.nodes < 2:
        return f"--nodes must be at least 2 for --scenario crash, got {args.nodes}"
    if not 0 <= args.loss <= 1:  # also refuses nan
        return f"--loss must be a fraction from 0 to 1, got {args.loss}"
    if not 0 <= args.seed < 2**64:
        return f"--seed must be from 0 to 2**64 - 1, got {args.seed}"
    try:
        agent.seconds_option("--seconds", args.seconds)
    except ValueError as e:
        return str(e)
    if args.plot is not None:
        folder = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(folder):
            return f"--plot {args.plot}: no folder {folder}"
        if os.path.isdir(args.plot):
            return f"--plot {args.plot}: a folder, not a file name"
    return None


def _simulate(args: argparse.Namespace) -> int:
    from rumor import scenarios
    from rumor.plot import plot_scenario

    mistake = _simulate_mistake(args)
    if mistake is not None:
        print(f"rumor simulate: {mistake}", file=sys.stderr)
        return 2
    plt = None
    if args.plot:
        from rumor.plot import _pyplot

        try:
            plt = _pyplot()  # before the run, not after it
        except ImportError as e:
            print(f"rumor: {e}", file=sys.stderr)
            return 1
    spread = scenarios.run(args.scenario, args.nodes, args.seconds, args.loss, args.seed)
    print(spread.title)
    _print_spread(spread)
    if spread.done is not None:
        print(f"{_DONE[args.scenario]} at t = {spread.done:.4f} s (virtual)")
    else:
        print(f"not everywhere after {args.seconds:g} virtual s")
    if plt is not None:
        plt.switch_backend("Agg")
        fig, ax = plt.subplots(figsize=(8, 4.5))
        plot_scenario(spread, ax=ax)
        fig.savefig(args.plot, dpi=120, bbox_inches="tight")
        plt.close(fig)
        print(f"plot saved to {args.plot}")
    return 0


_DONE = {
    "join": "converged",
    "crash": "every survivor held it dead",
    "broadcast": "every node delivered it",
}


def _print_spread(spread: Spread) -> None:
    """For each curve, the virtual time it reached each tenth of the total."""
    width = len(str(spread.total))
    print(f"{spread.ylabel}, at each tenth:")
    for curve in spread.curves:
        print(f"       t (s)   {curve.label}")
        tenth = 1
        for t, count in curve.steps:
            if count * 10 >= tenth * spread.total:
                print(f"  {t:10.4f}   {count:>{width}} / {spread.total}")
                while tenth <= 10 and count * 10 >= tenth * spread.total:
                    tenth += 1


def main(argv: list[str] | None = None) -> int:
    """Runs the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130  # the shell's status for SIGINT, without a traceback


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "demo":
        return demo.run(nodes=args.nodes, probe_interval=args.probe_interval)
    if args.command == "agent":
        return agent.run(args)
    if args.command == "members":
        return _ask(args.agent, "members")
    if args.command == "broadcast":
        if "\n" in args.payload or "\r" in args.payload:
            print("rumor: the payload must be one line", file=sys.stderr)
            return 2
        return _ask(args.agent, f"broadcast {args.payload}")
    if args.command == "join":
        if any(c.isspace() for seed in args.seeds for c in seed):
            print("rumor: a seed address has no spaces", file=sys.stderr)
            return 2
        try:
            agent.seconds_option("--timeout", args.timeout)
        except ValueError as e:
            print(f"rumor join: {e}", file=sys.stderr)
            return 2
        # Wait longer than the agent does, so that its own answer ("no seed
        # answered ...") arrives rather than a timeout of ours.
        command = agent.join_command(args.seeds, args.timeout)
        return _ask(args.agent, command, timeout=args.timeout + agent.REPLY_MARGIN)
    if args.command == "health":
        try:
            agent.seconds_option("--timeout", args.timeout)
        except ValueError as e:
            print(f"rumor health: {e}", file=sys.stderr)
            return 2
        return _health(args.agent, args.timeout)
    if args.command == "simulate":
        return _simulate(args)
    parser.print_help()
    return 2
