"""Simulated scenarios whose spread is worth drawing: a join, a crash, a
broadcast (``rumor simulate --scenario``, :func:`rumor.plot.plot_scenario`).

Each curve is a step series built from the simulation's event log, not by
polling: every record carries the virtual time it was written, so each step
sits at the exact time a node learned something, however short the run.
Polling once per virtual second drew a 300-node join as a single vertical
jump, while eager push spreads news in milliseconds and stragglers behind a
lost datagram catch up gossip rounds later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from rumor.errors import ArgumentError, TimeoutError
from rumor.sim import Simulation

__all__ = ["SCENARIOS", "Curve", "Spread", "run", "steps"]

SCENARIOS = ("join", "crash", "broadcast")
"""The scenarios :func:`run` knows, in the order ``rumor simulate`` lists them."""

WARM_UP = 1.0
"""Virtual seconds a converged cluster runs before the crash or broadcast,
so that probe timers are not all at their first tick."""


@dataclasses.dataclass(frozen=True)
class Curve:
    """One step series: ``steps[i] = (time, count)`` means ``count`` from
    virtual ``time`` on, until the next step. Times are increasing and
    distinct; the count is 0 before the first step."""

    label: str
    """What is counted, for a legend (``"suspect n299"``)."""
    steps: list[tuple[float, int]]

    @property
    def first(self) -> float | None:
        """Virtual time of the first change (None: nothing happened)."""
        return self.steps[0][0] if self.steps else None

    @property
    def last(self) -> float | None:
        """Virtual time of the last change."""
        return self.steps[-1][0] if self.steps else None

    @property
    def final(self) -> int:
        """The count at the end of the run."""
        return self.steps[-1][1] if self.steps else 0


@dataclasses.dataclass(frozen=True)
class Spread:
    """What :func:`run` gives back: the curves of one scenario and how to
    label them."""

    scenario: str
    """``join``, ``crash`` or ``broadcast``."""
    title: str
    """The scenario and its parameters, for a plot's title."""
    ylabel: str
    """What the curves count, for a plot's y axis."""
    total: int
    """The count every curve reaches once the news is everywhere."""
    event: float
    """Virtual time of the join start, the crash or the broadcast."""
    curves: list[Curve]
    sim: Simulation
    """The simulation, run to the end (for its event log and stats)."""

    @property
    def done(self) -> float | None:
        """Virtual time every curve had reached :attr:`total` (None: not
        within the run)."""
        if any(c.final < self.total for c in self.curves):
            return None
        return max((c.last for c in self.curves if c.last is not None), default=self.event)


def steps(times: Iterable[float]) -> list[tuple[float, int]]:
    """The step series of a count that goes up by one at each of ``times``;
    changes at the same time make one step."""
    out: list[tuple[float, int]] = []
    count = 0
    for t in sorted(times):
        count += 1
        if out and out[-1][0] == t:
            out[-1] = (t, count)
        else:
            out.append((t, count))
    return out


def _first_reports(sim: Simulation, kinds: tuple[str, ...], subject: str) -> list[float]:
    """The time each node first reported one of ``kinds`` about ``subject``."""
    first: dict[str, float] = {}
    for kind in kinds:
        for record in sim.events(kind=kind, subject=subject):
            if record.node != subject and record.time < first.get(record.node, float("inf")):
                first[record.node] = record.time
    return list(first.values())


def _known_pairs(sim: Simulation) -> list[float]:
    """The time each (node, member) pair first met: the node's first
    ``join`` record about the member."""
    first: dict[tuple[str, str], float] = {}
    for record in sim.events(kind="join"):
        first.setdefault((record.node, record.subject), record.time)
    return list(first.values())


def _run_until(sim: Simulation, done: Callable[[Simulation], bool], seconds: float) -> None:
    """Runs until ``done`` holds or ``seconds`` have passed, whichever is first."""
    try:
        sim.run_until(done, timeout=seconds, every=0.05)
    except TimeoutError:
        pass  # the curves show how far the news got


def _params(nodes: int, loss: float, seed: int) -> str:
    return f"{nodes} nodes, {loss:.0%} loss, seed {seed}"


def _join(nodes: int, seconds: float, loss: float, seed: int) -> Spread:
    sim = Simulation(nodes, seed=seed, loss=loss)
    _run_until(sim, Simulation.converged, seconds)
    pairs = nodes * (nodes - 1)
    return Spread(
        scenario="join",
        title=f"Join through n0 at t = 0: {_params(nodes, loss, seed)}",
        ylabel=f"members known, summed over nodes (of {pairs:,})",
        total=pairs,
        event=0.0,
        curves=[Curve("members known", steps(_known_pairs(sim)))],
        sim=sim,
    )


def _crash(nodes: int, seconds: float, loss: float, seed: int) -> Spread:
    if nodes < 2:
        raise ArgumentError(f"a crash needs at least 2 nodes, got {nodes}")
    sim = Simulation(nodes, seed=seed, loss=loss, join="converged")
    sim.run(WARM_UP)
    victim = f"n{nodes - 1}"
    sim.kill(victim)
    crash = sim.now
    _run_until(sim, lambda s: s.all_know_failed(victim), seconds)
    # A survivor that hears "dead" before "suspect" has suspected it too.
    suspected = _first_reports(sim, ("suspect", "fail"), victim)
    dead = _first_reports(sim, ("fail",), victim)
    return Spread(
        scenario="crash",
        title=f"Crash of {victim} at t = {crash:g} s: {_params(nodes, loss, seed)}",
        ylabel=f"survivors (of {nodes - 1})",
        total=nodes - 1,
        event=crash,
        curves=[
            Curve(f"suspect {victim} (or worse)", steps(suspected)),
            Curve(f"hold {victim} dead", steps(dead)),
        ],
        sim=sim,
    )


def _broadcast(nodes: int, seconds: float, loss: float, seed: int) -> Spread:
    sim = Simulation(nodes, seed=seed, loss=loss, join="converged")
    sim.run(WARM_UP)
    sender = "n0"
    sim.node(sender).broadcast(b"news")
    sent = sim.now

    def everyone_has_it(s: Simulation) -> bool:
        return len({r.node for r in s.events(kind="rumor", subject=sender)}) == nodes

    _run_until(sim, everyone_has_it, seconds)
    delivered: dict[str, float] = {}
    for record in sim.events(kind="rumor", subject=sender):
        delivered.setdefault(record.node, record.time)
    return Spread(
        scenario="broadcast",
        title=f"Broadcast by {sender} at t = {sent:g} s: {_params(nodes, loss, seed)}",
        ylabel=f"nodes that delivered it (of {nodes})",
        total=nodes,
        event=sent,
        curves=[Curve("delivered", steps(delivered.values()))],
        sim=sim,
    )


def run(
    scenario: str, nodes: int, seconds: float = 30.0, loss: float = 0.0, seed: int = 1
) -> Spread:
    """Runs ``scenario`` on a simulated cluster of ``nodes`` with datagram
    ``loss`` until the news has reached everyone or ``seconds`` of virtual
    time have passed since the join, crash or broadcast.

    - ``join``: every node joins through ``n0`` at t = 0; one curve, how many
      members the nodes know, summed over nodes.
    - ``crash``: a converged cluster; the last node crashes; two curves, the
      survivors that suspect it and those that hold it dead.
    - ``broadcast``: a converged cluster; ``n0`` broadcasts; one curve, the
      nodes that delivered it (``n0`` first).

    Raises:
        ArgumentError: an unknown scenario, or a crash of fewer than 2 nodes.
    """
    if scenario == "join":
        return _join(nodes, seconds, loss, seed)
    if scenario == "crash":
        return _crash(nodes, seconds, loss, seed)
    if scenario == "broadcast":
        return _broadcast(nodes, seconds, loss, seed)
    raise ArgumentError(f"scenario must be one of {', '.join(SCENARIOS)}, got {scenario!r}")
