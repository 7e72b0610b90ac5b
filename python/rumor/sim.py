"""A deterministic simulator running the real engine in virtual time:
:class:`Simulation` and its nodes, :class:`SimNode`.

Nothing here touches a socket or the wall clock: every node is the same
Rust engine a :class:`rumor.Node` runs, the network between them is a
seeded model (latency, loss, duplication, reordering, partitions), and the
clock jumps from one delivery or timer to the next. The same seed, config
and script give the same :meth:`Simulation.events`, record for record.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple

from rumor import _native
from rumor._base import (
    AnyCallback,
    BytesLike,
    NativeEvent,
    NodeBase,
    ValueIn,
    callback_arguments,
    check_bytes,
    check_seconds,
    check_seed,
    check_str,
    check_value,
    member_from_tuple,
    member_state,
    optional_str,
    seed_list,
)
from rumor._native import Config
from rumor._progress import Progress
from rumor.errors import (
    ArgumentError,
    ArgumentTypeError,
    JoinError,
    NodeClosedError,
    TimeoutError,
    UsageError,
)
from rumor.eventlog import EventLog, Record
from rumor.member import Member, MemberState
from rumor.metrics import ProbeRtt
from rumor.news import Value

__all__ = ["SimNode", "Simulation"]

_CALLBACK_KINDS = ("join", "leave", "fail", "suspect", "alive")

# The state a member is in right after each kind of event, for the rare
# callback whose observer no longer lists the member.
_STATE_AFTER = {
    "join": MemberState.ALIVE,
    "leave": MemberState.LEFT,
    "fail": MemberState.DEAD,
    "suspect": MemberState.SUSPECT,
    "alive": MemberState.ALIVE,
}

_BUDGET = 0.2
"""Wall seconds one native call may run before Python gets control back
(to update the progress display)."""


def _number(field: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{field} must be a number, got {type(value).__name__}")
    return float(value)


class _Due(NamedTuple):
    """A callback call a record made due, not run yet."""

    key: tuple[str, str]
    """``(node, kind)`` it was registered for (gone: the call is skipped)."""
    callback: AnyCallback
    args: tuple[Any, ...]


def _link(src: str | None, dst: str | None) -> tuple[str | None, str | None]:
    """``(src, dst)`` of a link setting, checked."""
    return optional_str("src", src), optional_str("dst", dst)


_REENTRANT = "a callback cannot run the simulation it is called from"


class Simulation:
    """``nodes`` simulated members named ``n0`` … ``n{nodes-1}``, in virtual time.

    Args:
        nodes: how many nodes (at least 1).
        config: protocol settings every node runs; defaults to
            :meth:`Config.lan`.
        seed: seeds every random choice of the run (0 to 2**64 - 1).
        loss: probability that a datagram is lost, on every link.
        latency: one-way delay on every link, in seconds: a number (fixed)
            or a ``(low, high)`` pair (uniform). See :meth:`set_latency` for
            a normal distribution.
        join: ``True``: every node joins through ``n0`` at time 0.
            ``"converged"``: the nodes start out knowing each other, as after
            a join that has converged, with no join traffic and no join
            events; the nodes share that starting view in memory, which is
            what lets a run of 100,000 nodes fit. ``False``: nobody joins
            anybody until told to.

    Nothing runs until :meth:`run` or :meth:`run_until`. Callbacks
    registered on a :meth:`node` fire during those calls, synchronously, at
    the virtual time of their event (:attr:`now` inside a callback is the
    event's time). A run taking more than about 2 s of wall time shows its
    progress on stderr; Ctrl-C interrupts it between two simulator steps,
    leaving the simulation consistent.
    """

    def __init__(
        self,
        nodes: int,
        config: Config | None = None,
        seed: int = 0,
        loss: float = 0.0,
        latency: float | tuple[float, float] = (0.0002, 0.002),
        join: bool | Literal["converged"] = True,
    ) -> None:
        if isinstance(nodes, bool) or not isinstance(nodes, int):
            raise ArgumentTypeError(f"nodes must be an int, got {type(nodes).__name__}")
        if nodes < 1:
            raise ArgumentError(f"nodes must be at least 1, got {nodes}")
        check_seed(seed)
        if isinstance(join, str) and join != "converged":
            raise ArgumentError(f'join must be True, False or "converged", got {join!r}')
        if not isinstance(join, (bool, str)):
            raise ArgumentTypeError(f'join must be True, False or "converged", got {join!r}')
        if config is not None and not isinstance(config, Config):
            raise ArgumentTypeError(f"config must be a rumor.Config, got {type(config).__name__}")
        config = config if config is not None else Config.lan()
        converged = join == "converged"
        self._native = _native.NativeSim(config, nodes, seed, converged)
        self._names: list[str] = self._native.names()
        self._handles: dict[str, SimNode] = {}
        self._callbacks: dict[tuple[str, str], list[AnyCallback]] = {}
        self._watches: dict[tuple[str, str], int] = {}
        self._records: list[Record] = []
        self._in_callback = 0
        # Callbacks due but not run yet: a Ctrl-C inside one callback leaves
        # the rest of its batch here, to run first thing in the next run.
        self._due: collections.deque[_Due] = collections.deque()
        self.set_loss(loss)
        self.set_latency(latency)
        if join is True:
            self._native.join_all(self._names[0])

    # -- identity ---------------------------------------------------------

    @property
    def now(self) -> float:
        """Current virtual time, in seconds since the simulation started."""
        return self._native.now

    @property
    def node_names(self) -> list[str]:
        """Every node's name, ``n0`` first."""
        return list(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"<rumor.Simulation of {len(self._names)} nodes at t={self.now:.3f} s>"

    def _repr_html_(self) -> str:
        """Jupyter's view: a summary, and a plot of membership events over
        virtual time when matplotlib is installed."""
        from rumor._html import simulation_html

        return simulation_html(self)

    def node(self, name: str) -> SimNode:
        """The handle of node ``name``, with the methods of :class:`rumor.Node`.

        Raises:
            ArgumentError: there is no node called ``name`` (a ``ValueError``).
        """
        handle = self._handles.get(name)
        if handle is None:
            if not isinstance(name, str):
                raise ArgumentTypeError(f"name must be a str, got {type(name).__name__}")
            self._native.addr(name)  # raises ArgumentError for an unknown name
            handle = self._handles[name] = SimNode(self, name)
        return handle

    def add_node(self) -> SimNode:
        """Adds a node (``n{len(sim)}``) that has not joined; returns its handle."""
        name = self._native.add_node()
        self._names.append(name)
        return self.node(name)

    # -- running ----------------------------------------------------------

    def run(self, seconds: float) -> None:
        """Runs for ``seconds`` of virtual time, firing callbacks on the way."""
        seconds = check_seconds("seconds", seconds)
        start = self.now
        progress = Progress(start, start + seconds)
        try:
            self._run(start + seconds, progress=progress)
        finally:
            progress.close()

    def run_until(
        self,
        predicate: Callable[[Simulation], bool],
        timeout: float = 60.0,
        every: float = 0.01,
    ) -> float:
        """Runs until ``predicate(sim)`` holds, checking it every ``every``
        virtual seconds; returns the virtual time it first held.

        Raises:
            rumor.TimeoutError: it did not hold within ``timeout`` virtual
                seconds (the simulation has then run for ``timeout``).
        """
        if not callable(predicate):
            raise ArgumentTypeError(f"predicate must be callable, got {type(predicate).__name__}")
        timeout = check_seconds("timeout", timeout)
        every = check_seconds("every", every)
        if every <= 0.0:
            raise ArgumentError(
                f"every must be a number of seconds above 0 and at most 1e9, got {every}"
            )
        if self._in_callback:
            raise UsageError(_REENTRANT)
        self._fire_due()  # callbacks a Ctrl-C cut off, before the predicate
        start = self.now
        end = start + timeout
        checks = max(1, math.ceil(timeout / every - 1e-9))
        progress = Progress(start, end)
        try:
            # Targets are computed from the start, not accumulated, so the
            # loop ends exactly at `end` whatever the rounding.
            for k in range(1, checks + 1):
                if predicate(self):
                    return self.now
                self._run(min(start + k * every, end), progress=progress)
            if predicate(self):
                return self.now
        finally:
            progress.close()
        what = getattr(predicate, "__qualname__", repr(predicate))
        raise TimeoutError(
            f"{what} did not hold within {timeout:g} virtual seconds "
            f"(from t={start:.3f} s to t={self.now:.3f} s)"
        )

    def _run(
        self,
        until: float,
        stop: Callable[[Record], bool] | None = None,
        progress: Progress | None = None,
    ) -> Record | None:
        """Runs to ``until``, firing callbacks. Returns early, with the record,
        if a watched record satisfies ``stop``."""
        if self._in_callback:
            raise UsageError(_REENTRANT)
        self._fire_due()
        while True:
            reached, raw = self._native.advance(until, _BUDGET)
            hit = self._dispatch(raw, stop)
            if progress is not None:
                progress.update(self.now)
            if hit is not None:
                return hit
            if reached:
                return None

    def _dispatch(
        self,
        raw: list[_native.WatchedTuple],
        stop: Callable[[Record], bool] | None,
    ) -> Record | None:
        """Fires the callbacks of ``raw``'s records, in order; returns the
        first record that satisfies ``stop``."""
        hit = None
        for time, node, kind, subject, incarnation, content in raw:
            record = Record(time, node, kind, subject, incarnation)
            if hit is None and stop is not None and stop(record):
                hit = record
            callbacks = self._callbacks.get((record.node, record.kind))
            if callbacks:
                event = NativeEvent(record.kind, record.subject, record.incarnation, content)
                args = callback_arguments(event, functools.partial(self._member_of, record))
                key = (record.node, record.kind)
                self._due.extend(_Due(key, callback, args) for callback in callbacks)
        self._fire_due()
        return hit

    def _fire_due(self) -> None:
        """Runs the due callbacks. One that raises an ``Exception`` is
        reported and the rest still run; a ``KeyboardInterrupt`` (or other
        ``BaseException``) propagates and leaves the rest due."""
        while self._due:
            key, callback, args = self._due.popleft()
            if callback not in self._callbacks.get(key, ()):
                continue  # unregistered meanwhile
            self._in_callback += 1
            try:
                callback(*args)
            except Exception as exc:  # reported, never fatal to the run
                _native.write_unraisable(exc, callback)
            finally:
                self._in_callback -= 1

    def _member_of(self, record: Record) -> Member:
        state = _STATE_AFTER.get(record.kind, MemberState.ALIVE)
        raw = self._native.member(record.node, record.subject)
        if raw is not None:
            # The table is read after the whole step that wrote the record; a
            # later event of the same step may have moved the member on, so
            # the state and incarnation are the ones this event left.
            return dataclasses.replace(
                member_from_tuple(raw), state=state, incarnation=record.incarnation
            )
        return Member(
            record.subject,
            self._native.addr(record.subject),
            state,
            record.incarnation,
        )

    def _watch(self, node: str, kind: str, on: bool) -> None:
        """Counts who needs runs to stop at ``kind`` records by ``node``."""
        key = (node, kind)
        count = self._watches.get(key, 0) + (1 if on else -1)
        if count <= 0:
            self._watches.pop(key, None)
            self._native.watch(node, kind, False)
        else:
            self._watches[key] = count
            if count == 1 and on:
                self._native.watch(node, kind, True)

    # -- faults -----------------------------------------------------------

    def kill(self, name: str) -> None:
        """Crashes node ``name``: it stops at once, without a word."""
        self._native.kill(check_str("name", name))

    def restart(self, name: str) -> None:
        """Restarts node ``name`` as a fresh engine (same name and address)
        that joins through its earlier seeds; once it hears of its earlier
        life, it announces a higher incarnation."""
        self._native.restart(check_str("name", name))

    def pause(self, name: str, seconds: float) -> None:
        """Stops node ``name`` for ``seconds`` of virtual time: it neither
        sends, receives nor runs timers, then resumes with its state.

        Like a stopped process, it finds the datagrams sent to it meanwhile
        in its socket's receive buffer (up to :meth:`set_receive_buffer`
        bytes; the rest are missed), handles them oldest first on resuming,
        then runs its overdue timers."""
        self._native.pause(check_str("name", name), check_seconds("seconds", seconds))

    def stall(self, name: str, seconds: float) -> None:
        """Stops node ``name`` reading its socket for ``seconds`` of virtual
        time, while its timers keep firing and it keeps sending: a process
        whose receive loop is blocked (Lifeguard's "slow message
        processing"). Its probes time out, because the acks wait unread, so
        it accuses healthy members; what reached it is handled when the
        stall ends (up to :meth:`set_receive_buffer` bytes)."""
        self._native.stall(check_str("name", name), check_seconds("seconds", seconds))

    def set_receive_buffer(self, size: int) -> None:
        """Sets how many bytes of datagrams a paused node's receive buffer
        holds (default 212992, Linux's ``net.core.rmem_default``; 0 loses
        everything sent to a paused node)."""
        if isinstance(size, bool) or not isinstance(size, int):
            raise ArgumentTypeError(f"size must be an int, got {type(size).__name__}")
        if size < 0:
            raise ArgumentError(f"size must be a number of bytes, 0 or more, got {size}")
        self._native.set_receive_buffer(size)

    def partition(self, groups: Iterable[Iterable[str]], one_way: bool = False) -> None:
        """Splits the network into ``groups`` of node names (nodes in no group
        form one more group).

        Two-way, no group reaches another. One-way, a group cannot send to a
        group listed after it, but hears from it. Replaces any earlier
        partition; :meth:`heal` removes it.
        """
        if isinstance(groups, str):
            raise ArgumentTypeError(
                'groups must be a list of lists of node names, such as [["n0"]]'
            )
        lists: list[list[str]] = []
        for group in groups:
            if isinstance(group, str):
                raise ArgumentTypeError(
                    f"groups must be a list of lists of node names, got the string {group!r}"
                    " as a group"
                )
            lists.append([check_str("groups", name) for name in group])
        self._native.partition(lists, bool(one_way))

    def heal(self) -> None:
        """Removes every partition."""
        self._native.heal()

    def set_loss(self, loss: float, src: str | None = None, dst: str | None = None) -> None:
        """Sets the probability that a datagram is lost: on every link, or
        only from ``src`` to ``dst`` when both are given."""
        self._native.set_loss(_number("loss", loss), *_link(src, dst))

    def set_duplicate(self, p: float, src: str | None = None, dst: str | None = None) -> None:
        """Sets the probability that a datagram is delivered twice."""
        self._native.set_duplicate(_number("p", p), *_link(src, dst))

    def set_reorder(self, p: float, src: str | None = None, dst: str | None = None) -> None:
        """Sets the probability that a datagram is held back long enough for
        later ones to overtake it."""
        self._native.set_reorder(_number("p", p), *_link(src, dst))

    def set_latency(
        self,
        latency: float | tuple[float, float] | None = None,
        *,
        mean: float | None = None,
        std: float | None = None,
        floor: float = 0.0,
        src: str | None = None,
        dst: str | None = None,
    ) -> None:
        """Sets the one-way delay, in seconds, on every link or on the link
        from ``src`` to ``dst``.

        ``set_latency(0.001)`` is fixed; ``set_latency((0.0002, 0.002))`` is
        uniform between the two; ``set_latency(mean=0.005, std=0.002,
        floor=0.001)`` is normal, never below ``floor``.
        """
        if latency is not None:
            if mean is not None or std is not None:
                raise ArgumentError("give either latency, or mean and std, not both")
            if isinstance(latency, (tuple, list)):
                if len(latency) != 2:
                    raise ArgumentError(
                        f"latency must be seconds or a (low, high) pair, got {latency!r}"
                    )
                low, high = latency
                self._native.set_latency_uniform(
                    _number("latency", low), _number("latency", high), *_link(src, dst)
                )
            else:
                self._native.set_latency_fixed(_number("latency", latency), *_link(src, dst))
        elif mean is not None:
            self._native.set_latency_normal(
                _number("mean", mean),
                _number("std", std if std is not None else 0.0),
                _number("floor", floor),
                *_link(src, dst),
            )
        else:
            raise ArgumentError("set_latency needs latency, or mean (and std) for a normal law")

    def set_interval(self, seconds: float) -> None:
        """Sets the length of the intervals of :meth:`stats` (default 1 s)."""
        self._native.set_interval(check_seconds("seconds", seconds))

    # -- observing --------------------------------------------------------

    def members(self, name: str) -> list[Member]:
        """The member table of node ``name``, in name order (empty if down)."""
        return [member_from_tuple(raw) for raw in self._native.members(check_str("name", name))]

    def state(self, observer: str, subject: str) -> MemberState | None:
        """How ``observer`` sees ``subject`` (None if it does not know it)."""
        state = self._native.state(check_str("observer", observer), check_str("subject", subject))
        return MemberState(state) if state is not None else None

    def events(
        self,
        *,
        node: str | None = None,
        kind: str | None = None,
        subject: str | None = None,
    ) -> EventLog:
        """The event log so far: every :class:`~rumor.eventlog.Record`, or
        those by ``node``, of ``kind`` and about ``subject`` when given."""
        node = optional_str("node", node)
        kind = optional_str("kind", kind)
        subject = optional_str("subject", subject)
        if node is None and kind is None and subject is None:
            start = len(self._records)
            self._records.extend(Record(*r) for r in self._native.records(start))
            return EventLog(self._records)
        return EventLog(Record(*r) for r in self._native.records(0, node, kind, subject))

    def stats(self) -> dict[str, Any]:
        """Totals of the simulator's counters over every node (datagrams and
        bytes sent, received, dropped by the network, missed by stopped
        nodes, messages lost by kind), ``time``, node counts, and
        ``intervals``: one dict of counters per completed interval."""
        out: dict[str, Any] = {"time": self.now}
        out.update(self._native.stats())
        out["intervals"] = [
            {
                "start": start,
                "datagrams_sent": sent,
                "bytes_sent": bytes_sent,
                "datagrams_delivered": delivered,
                "datagrams_dropped": dropped,
                "records": records,
            }
            for start, sent, bytes_sent, delivered, dropped, records in self._native.intervals()
        ]
        return out

    # -- predicates -------------------------------------------------------

    def converged(self) -> bool:
        """Whether every running node sees every running node alive."""
        return self._native.converged()

    def all_see(self, name: str, state: MemberState | str) -> bool:
        """Whether every running node other than ``name`` holds it in ``state``."""
        return self._native.all_see(check_str("name", name), member_state("state", state).value)

    def count_seeing(self, name: str, state: MemberState | str) -> int:
        """How many running nodes other than ``name`` hold it in ``state``."""
        wanted = member_state("state", state).value
        return self._native.count_seeing(check_str("name", name), wanted)

    def all_know_failed(self, name: str) -> bool:
        """Whether every running node other than ``name`` holds it dead."""
        return self._native.all_see(check_str("name", name), MemberState.DEAD.value)


class SimNode(NodeBase):
    """One simulated node, with the methods of :class:`rumor.Node` that make
    sense in a simulation, so code written against a ``Node`` runs against
    it. Get it from :meth:`Simulation.node`.

    :meth:`join` and :meth:`leave` run the simulation (every node, in
    virtual time) until they complete, as the real ones wait. Callbacks run
    synchronously during the simulation's runs, at the virtual time of
    their event; one that raises is reported through
    :func:`sys.unraisablehook` and the run goes on.
    """

    def __init__(self, sim: Simulation, name: str) -> None:
        self._sim = sim
        self._name = name

    # -- identity ---------------------------------------------------------

    @property
    def name(self) -> str:
        """This member's name (``n0``, ``n1``, ...)."""
        return self._name

    @property
    def addr(self) -> str:
        """Its virtual ``host:port`` (never a real socket)."""
        return self._sim._native.addr(self._name)

    @property
    def sim(self) -> Simulation:
        """The simulation it belongs to."""
        return self._sim

    @property
    def closed(self) -> bool:
        """Whether the node is down (killed or closed, and not restarted)."""
        return self._sim._native.is_down(self._name)

    @property
    def running(self) -> bool:
        """Whether the node is up and not paused."""
        return self._sim._native.is_running(self._name)

    @property
    def paused(self) -> bool:
        """Whether the node is paused."""
        return self._sim._native.is_paused(self._name)

    def __repr__(self) -> str:
        state = "down" if self.closed else "paused" if self.paused else "running"
        return f"<rumor.SimNode {self._name!r} at {self.addr} ({state})>"

    # -- membership -------------------------------------------------------

    def _usable(self) -> None:
        if self.closed:
            raise NodeClosedError(f"{self._name} is down; restart it first")
        if self.paused:
            raise UsageError(f"{self._name} is paused; it cannot act until it resumes")

    def join(self, seeds: str | Iterable[str], timeout: float = 5.0) -> int:
        """Joins through seed nodes, given by name (``"n0"``) or address.

        Runs the simulation until a seed answers (returns 1), as
        :meth:`rumor.Node.join` waits. This node's own name or address
        among the seeds is skipped, as a live node does. After
        :meth:`leave`, joining again makes this node a member again
        everywhere, at a higher incarnation.

        Raises:
            JoinError: no seed answered within ``timeout`` virtual seconds
                (the message gives each seed's reason); at once if the only
                seeds are this node itself.
            ArgumentError: a seed is not a node of this simulation.
        """
        timeout = check_seconds("timeout", timeout)
        seeds = seed_list(seeds)
        self._usable()
        own = {self._name, self.addr}
        others = [seed for seed in seeds if seed not in own]

        def failed(what: str) -> JoinError:
            waited = f"no answer within {timeout:g} virtual s"
            each = (f"{s} ({'this node itself' if s in own else waited})" for s in seeds)
            return JoinError(f"{what} for {self._name}: {', '.join(each)}")

        if seeds and not others:
            raise failed("no seed to join through")
        outcomes = ("join_succeeded", "join_failed")
        sim = self._sim
        for kind in outcomes:
            sim._watch(self._name, kind, True)
        try:
            sim._native.join(self._name, others, timeout)
            hit = sim._run(
                sim.now + timeout,
                stop=lambda r: r.node == self._name and r.kind in outcomes,
            )
        finally:
            for kind in outcomes:
                sim._watch(self._name, kind, False)
        if hit is None or hit.kind == "join_failed":
            raise failed("no seed answered")
        return 1

    def leave(self, timeout: float = 5.0) -> None:
        """Leaves gracefully: runs the simulation until the departure notice
        has been gossiped enough. The node keeps running until :meth:`close`.

        Raises:
            TimeoutError: the notice was not spread within ``timeout``
                virtual seconds.
        """
        timeout = check_seconds("timeout", timeout)
        self._usable()
        sim = self._sim
        sim._watch(self._name, "leave_done", True)
        try:
            sim._native.leave(self._name)
            hit = sim._run(
                sim.now + timeout,
                stop=lambda r: r.node == self._name and r.kind == "leave_done",
            )
        finally:
            sim._watch(self._name, "leave_done", False)
        if hit is None:
            raise TimeoutError(
                f"{self._name}'s leave notice was not spread within {timeout:g} virtual s"
            )

    def _member_tuples(self) -> list[tuple[str, str, str, int, bytes]]:
        return self._sim._native.members(self._name)

    # -- dissemination ----------------------------------------------------

    def broadcast(self, payload: BytesLike) -> int:
        """Broadcasts ``payload`` (see :meth:`rumor.Node.broadcast`); it
        spreads from the next :meth:`Simulation.run`. Returns its sequence
        number.

        Raises:
            ArgumentTypeError: ``payload`` is not ``bytes``, ``bytearray``
                or ``memoryview`` (a ``TypeError``).
            ItemError: ``payload`` is larger than ``config.max_stream_size``
                (a ``ValueError``).
            NodeClosedError: the node is down.
            UsageError: the node is paused.
        """
        payload = check_bytes("payload", payload)
        self._usable()
        seq = self._sim._native.broadcast(self._name, payload)
        assert seq is not None  # _usable: the node runs
        return seq

    def set(self, key: str, value: ValueIn) -> None:
        """Sets ``key`` of this member's key-value map (see
        :meth:`rumor.Node.set`: a ``str``, or bytes-like kept as ``bytes``)."""
        key = check_str("key", key)
        value = check_value("value", value)
        self._usable()
        self._sim._native.set(self._name, key, value)

    def delete(self, key: str) -> None:
        """Deletes ``key`` of this member's key-value map."""
        self._usable()
        self._sim._native.delete(self._name, check_str("key", key))

    def get(self, member: str, key: str) -> Value | None:
        """``member``'s value of ``key`` as this node knows it."""
        return self._sim._native.get(self._name, check_str("member", member), check_str("key", key))

    def key_values(self, member: str) -> dict[str, Value]:
        """``member``'s key-value map as this node knows it."""
        return self._sim._native.key_values(self._name, check_str("member", member))

    def set_meta(self, meta: BytesLike) -> None:
        """Replaces this member's metadata and gossips it to the cluster
        (from the next :meth:`Simulation.run`), as :meth:`rumor.Node.set_meta`.

        Raises:
            MetaTooLargeError: ``meta`` is longer than ``config.max_meta_size``
                (a ``ValueError``).
            NodeClosedError: the node is down.
            UsageError: the node is paused.
        """
        meta = check_bytes("meta", meta)
        self._usable()
        self._sim._native.set_meta(self._name, meta)

    def stats(self) -> dict[str, int]:
        """The counters and gauges of :meth:`rumor.Node.stats`, under the
        same keys, plus the simulator's own for this node
        (``sim_datagrams_sent``, ``sim_lost_ping``, ...).

        Counters are totals over every life of the node: a kill or restart
        does not reset them. Gauges (``members_*``, ``update_queue``,
        ``push_queue``, ``health_multiplier``) describe the running engine
        (zeros while the node is down); a simulated network never fails a
        send nor queues events, so ``send_errors``, ``event_queue`` and the
        like stay 0."""
        return self._sim._native.node_stats(self._name)

    def _probe_rtt(self) -> ProbeRtt:
        return ProbeRtt(*self._sim._native.probe_rtt(self._name))

    # -- callbacks --------------------------------------------------------

    def _store(self, kind: str, callback: AnyCallback) -> None:
        self._sim._callbacks.setdefault((self._name, kind), []).append(callback)
        self._sim._watch(self._name, kind, True)

    # -- lifecycle --------------------------------------------------------

    def kill(self) -> None:
        """Crashes this node (see :meth:`Simulation.kill`)."""
        self._sim.kill(self._name)

    def restart(self) -> None:
        """Restarts this node (see :meth:`Simulation.restart`)."""
        self._sim.restart(self._name)

    def pause(self, seconds: float) -> None:
        """Pauses this node (see :meth:`Simulation.pause`)."""
        self._sim.pause(self._name, seconds)

    def stall(self, seconds: float) -> None:
        """Stalls this node's receiving (see :meth:`Simulation.stall`)."""
        self._sim.stall(self._name, seconds)

    @property
    def stalled(self) -> bool:
        """Whether the node's receiving is stalled."""
        return self._sim._native.is_stalled(self._name)

    def close(self) -> None:
        """Stops the node at once, as :meth:`rumor.Node.close` does: the
        others detect it as failed. Idempotent."""
        self._sim.kill(self._name)
