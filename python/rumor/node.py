"""A live cluster member on a real UDP socket: :class:`Node`."""

from __future__ import annotations

import atexit
import functools
import html
import inspect
import logging
import sys
import threading
import time
import types
import warnings
import weakref
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from rumor import _native
from rumor._base import (
    EVENT_KINDS,
    AnyCallback,
    BytesLike,
    NativeEvent,
    NodeBase,
    RestartCallback,
    ValueIn,
    callback_arguments,
    check_bytes,
    check_seconds,
    check_seed,
    check_str,
    check_value,
    member_from_tuple,
    seed_list,
)
from rumor._html import counts_line, members_table
from rumor._native import Config
from rumor.errors import ArgumentTypeError, NodeClosedError, RumorError, TimeoutError
from rumor.events import (
    _CLOSED,
    Alive,
    Event,
    EventStream,
    Failed,
    Joined,
    Left,
    Restarted,
    RumorReceived,
    Suspected,
    Updated,
)
from rumor.keyring import Keyring
from rumor.member import Accusation, Member, MemberState
from rumor.metrics import ProbeRtt
from rumor.news import Rumor, Value

if TYPE_CHECKING:
    # Imported where used: asyncio (and the ssl it loads) is a third of an
    # agent's memory, and a program without an event loop never needs it.
    import asyncio
    import concurrent.futures

__all__ = ["Node"]


EXIT_GRACE = 5.0
"""Seconds interpreter exit waits, once for all nodes together, for
callbacks still running when it closes the nodes left open."""

STALL_AFTER = 0.2
"""Seconds a node's events may wait while every dispatcher thread is stuck
in a callback before the pool starts another thread (see :class:`_Pool`)."""

BATCH = 64
"""Events of one node a dispatcher runs before it lets other nodes' turn
come: one busy node does not starve the rest."""

RETIRE_AFTER = 10.0
"""Seconds a dispatcher thread beyond the first stays idle before it ends."""

# Set at interpreter exit: dispatchers start no more callbacks.
_exiting = threading.Event()


_RC = TypeVar("_RC", bound=RestartCallback)

_TYPED: dict[str, Callable[[Member], Event]] = {
    "join": Joined,
    "leave": Left,
    "fail": Failed,
    "suspect": Suspected,
    "alive": Alive,
}


def _typed(native: _native.NativeNode, kind: str, args: tuple[Any, ...]) -> Event | None:
    """The typed event of a native event, for :meth:`Node.events`."""
    if kind == "restart":
        return Restarted(args[0], args[1])
    if kind in _TYPED:
        return _TYPED[kind](args[0])
    if kind not in ("update", "rumor"):
        return None
    name = args[0] if kind == "update" else args[0].origin
    raw = native.member(name)
    # A member reaped meanwhile (a day after its death) is no longer known.
    about = member_from_tuple(raw) if raw is not None else Member(name, "", MemberState.DEAD, 0)
    if kind == "update":
        return Updated(about, args[1], args[2])
    return RumorReceived(about, args[0])


def _report(callback: AnyCallback, future: concurrent.futures.Future[Any]) -> None:
    """Reports the exception an async callback raised, as for sync ones."""
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        _native.write_unraisable(exc, callback)


_log = logging.getLogger("rumor")

DROP_LOG_INTERVAL = 10.0
"""Seconds between two warnings about dropped datagrams, at most, per node."""

_DROP_KEYS = ("dropped_total", "send_errors", "events_dropped", "streams_refused")

TRIM_BURST = 1_000
"""Events delivered in one :data:`DROP_LOG_INTERVAL` that make it a busy
one, for :class:`_Trim`: a membership change of about this many members."""

TRIM_BUSY_LOOKS = 6
"""Busy intervals in a row after which :class:`_Trim` gives memory back
anyway, without waiting for a quiet one."""


def _log_event(node: str, kind: str, args: tuple[Any, ...]) -> None:
    """Logs one event under the ``rumor`` logger: membership changes that
    matter at INFO, protocol detail at DEBUG."""
    if kind == "restart":
        back: Member = args[0]
        _log.info("%s: %s restarted at %s (was %s)", node, back.name, back.addr, args[1])
    elif kind in ("join", "leave", "fail"):
        m: Member = args[0]
        verb = {"join": "joined", "leave": "left", "fail": "failed"}[kind]
        if m.failure_reason is not None:
            verb = f"failed ({m.failure_reason})"
        _log.info("%s: %s %s (%s, incarnation %d)", node, m.name, verb, m.addr, m.incarnation)
    elif not _log.isEnabledFor(logging.DEBUG):
        return
    elif kind in ("suspect", "alive"):
        m = args[0]
        what = "suspected" if kind == "suspect" else "alive again"
        _log.debug("%s: %s %s (incarnation %d)", node, m.name, what, m.incarnation)
    elif kind == "refute":
        a: Accusation = args[0]
        _log.debug("%s: refuted being %s (now incarnation %d)", node, a.state, a.incarnation)
    elif kind == "rumor":
        r: Rumor = args[0]
        _log.debug("%s: rumor %d from %s, %d bytes", node, r.seq, r.origin, len(r.payload))
    elif kind == "update":
        _log.debug("%s: %s set %s", node, args[0], args[1])


class _DropWatch:
    """Warns, at most every :data:`DROP_LOG_INTERVAL` seconds, when the node
    dropped datagrams, failed to send, or lost events since the last look."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.seen: dict[str, int] | None = None
        self.total = 0  # native.trouble() at the last look

    def check(self, native: _native.NativeNode) -> None:
        now = time.monotonic()
        if now - self.last < DROP_LOG_INTERVAL or not _log.isEnabledFor(logging.WARNING):
            return
        self.last = now
        try:
            # One number first: a thousand nodes' full stats every interval
            # would cost a good part of an idle process's CPU.
            total = native.trouble()
            if total == self.total:
                return
            self.total = total
            stats = native.stats()
        except RumorError:
            return  # closed meanwhile
        if self.seen is None:
            self.seen = {k: 0 for k in stats}
        grown = {
            k: v - self.seen.get(k, 0)
            for k, v in stats.items()
            if (k.startswith("dropped_") or k in _DROP_KEYS) and v > self.seen.get(k, 0)
        }
        self.seen = dict(stats)
        if grown:
            detail = ", ".join(f"{k}={v}" for k, v in sorted(grown.items()))
            interval = DROP_LOG_INTERVAL
            _log.warning("%s: trouble in the last %.0f s: %s", native.name, interval, detail)


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, which gives the free pages of every
    malloc arena back to the operating system; ``None`` where the C library
    has no such call (musl, macOS, Windows), where freed memory is left as
    it is. ctypes is imported here, at the first trim, not with rumor."""
    try:
        import ctypes

        f = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    f.argtypes = [ctypes.c_size_t]
    f.restype = ctypes.c_int
    return functools.partial(f, 0)


class _Trim:
    """Gives the memory a burst of membership changes freed back to the
    operating system, once the burst is over (issue 16).

    A process hosting many nodes peaks during a mass join (every node's
    event queue, gossip queues and datagrams at once) and frees most of it
    after. glibc keeps what was freed, fragmented over an arena per thread,
    unless asked: 1,000 nodes held 314 KiB per node converged and idle, of
    which 155 KiB were in use, and 138 KiB after one ``malloc_trim``. The
    watcher calls :meth:`look` every :data:`DROP_LOG_INTERVAL` with the
    events delivered meanwhile, the sign of such a burst (each node hears
    of each member that joins). It trims at the first quiet interval after
    a busy one, or every :data:`TRIM_BUSY_LOOKS` busy ones: an idle or
    quietly working process never trims; a trim costs a few milliseconds
    and runs on the watcher thread without the GIL."""

    __slots__ = ("busy", "looked_up", "trim")

    def __init__(self, trim: Callable[[], object] | None = None) -> None:
        self.trim = trim
        self.looked_up = trim is not None
        self.busy = 0  # busy intervals since the last trim

    def look(self, delivered: int) -> bool:
        """Notes ``delivered`` events in the last interval; returns whether
        memory was given back."""
        if delivered >= TRIM_BURST:
            self.busy += 1
            if self.busy < TRIM_BUSY_LOOKS:
                return False
        elif self.busy == 0:
            return False
        self.busy = 0
        if not self.looked_up:
            self.trim, self.looked_up = _malloc_trim(), True
        if self.trim is None:
            return False
        self.trim()
        return True


def _schedule(
    coroutine: Coroutine[Any, Any, Any], callback: AnyCallback, kind: str, node: Node
) -> None:
    """Runs the coroutine ``callback`` returned on the loop ``node`` was
    made in; when it cannot run there (no loop, or a closed one), closes it
    and says so with a :class:`RuntimeWarning` naming the callback."""
    loop = node._loop
    what = f"on_{kind} callback {_qualified_name(callback)} of node {node.name!r}"
    if loop is None:
        why = (
            f"{what} returned a coroutine, which was never awaited: the node was made "
            "outside a running event loop, so it has none to run it on"
        )
    else:
        import asyncio  # loaded already: the node was made in a loop

        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError:
            if not loop.is_closed():
                raise
            why = f"{what} did not run: the event loop the node was made in is closed"
        else:
            future.add_done_callback(functools.partial(_report, callback))
            return
    coroutine.close()  # without a loop it can never run
    _warn_at(callback, why)


def _qualified_name(callback: AnyCallback) -> str:
    """``module.qualname`` of ``callback``, or its repr if it has none."""
    name = getattr(callback, "__qualname__", None)
    if not isinstance(name, str):
        return repr(callback)
    module = getattr(callback, "__module__", None)
    return f"{module}.{name}" if isinstance(module, str) else name


# Warnings already shown, as a module's __warningregistry__: the default
# filter shows each distinct one once, not at every event.
_warned: dict[Any, Any] = {}


def _warn_at(callback: AnyCallback, message: str) -> None:
    """A :class:`RuntimeWarning` pointing at ``callback``'s definition (the
    user's code, not the dispatcher thread) when it has one."""
    code = getattr(callback, "__code__", None)
    if not isinstance(code, types.CodeType):
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return
    module = getattr(callback, "__module__", None)
    warnings.warn_explicit(
        message,
        RuntimeWarning,
        code.co_filename,
        code.co_firstlineno,
        module=module if isinstance(module, str) else None,
        registry=_warned,
    )


class _Served:
    """A node as the dispatcher pool sees it: its native node, a weak
    reference to the :class:`Node` (see :class:`_Pool`), its drop warnings,
    and whether it is finished (closed, every event delivered)."""

    __slots__ = ("finished", "native", "node_ref", "watch")

    def __init__(self, native: _native.NativeNode, node_ref: weakref.ref[Node]) -> None:
        self.native = native
        self.node_ref = node_ref
        self.watch = _DropWatch()
        self.finished = threading.Event()


class _Worker:
    """One dispatcher thread: which node it serves and since when its
    current event's callbacks run (``None`` between events)."""

    __slots__ = ("key", "since", "thread")

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.key: int | None = None
        self.since: float | None = None


class _Pool:
    """The dispatcher threads all the nodes of the process share.

    A node's events wait in its native queue; when the first arrives, the
    native side puts the node on one ready queue (``NativeHub``), and a
    dispatcher thread takes it, runs up to :data:`BATCH` of its events'
    callbacks in order, and hands it back (on the ready queue again if more
    came). So one node is served by one thread at a time, in order, and an
    idle node costs no thread and no wake-up: a thousand nodes are two
    threads, one dispatcher waiting on the ready queue and one watcher,
    instead of a thread per node waking twice a second.

    A callback that blocks must not hold up the other nodes: the watcher
    sleeps until a node has waited :data:`STALL_AFTER` on the ready queue
    with no dispatcher free, and if every dispatcher is then inside a
    callback that has run that long, it starts another one. Dispatchers
    beyond the first end after :data:`RETIRE_AFTER` idle seconds. The
    watcher also looks for dropped datagrams every
    :data:`DROP_LOG_INTERVAL` (:class:`_DropWatch`), once for all nodes,
    and gives memory back to the operating system after a burst of events
    (:class:`_Trim`).

    Each :class:`_Served` holds the native node and only a weak reference
    to the :class:`Node`: callbacks that refer to their node (a closure over
    it, the common case) make a reference cycle, and a pool that held the
    node for good would keep the whole cycle, port included, alive forever.
    So an unreferenced node is collected, its finalizer closes the native
    node, and the pool lets go of it once its last events are delivered.
    """

    def __init__(self) -> None:
        self.hub = _native.NativeHub()
        self.lock = threading.Lock()
        self.nodes: dict[int, _Served] = {}
        self.keys = 0
        self.workers: list[_Worker] = []
        self.started = 0  # dispatcher threads ever started, for their names
        # Events delivered since the watcher last looked (for _Trim; an
        # update lost to a race between dispatchers is of no matter).
        self.delivered = 0
        self.trim = _Trim()
        self.shut = False
        # Signalled when a callback ends, while the interpreter exits.
        self.calm = threading.Condition(self.lock)
        self.local = threading.local()
        self.watcher = threading.Thread(target=self._watch, name="rumor-watch", daemon=True)
        self.watcher.start()
        self._grow()

    def add(self, native: _native.NativeNode, node_ref: weakref.ref[Node]) -> _Served:
        """Starts serving ``native``'s events."""
        served = _Served(native, node_ref)
        with self.lock:
            self.keys += 1
            key = self.keys
            self.nodes[key] = served
        native.attach(self.hub, key)
        self.hub.poke()  # the watcher takes the new node's drop watch into account
        return served

    def serving(self) -> _native.NativeNode | None:
        """The native node whose callback the calling thread runs, if any."""
        key = getattr(self.local, "key", None)
        served = self.nodes.get(key) if key is not None else None
        return served.native if served is not None else None

    def _grow(self) -> None:
        """Starts one more dispatcher thread."""
        worker = _Worker()
        with self.lock:
            self.started += 1
            self.workers.append(worker)
        worker.thread = threading.Thread(
            target=self._work, args=(worker,), name=f"rumor-events-{self.started}", daemon=True
        )
        worker.thread.start()

    def _work(self, me: _Worker) -> None:
        """A dispatcher thread: serves whichever node is ready."""
        while True:
            with self.lock:
                # The last thread waits without a timeout: idle, it never wakes.
                timeout = None if len(self.workers) == 1 else RETIRE_AFTER
            key = self.hub.next(timeout)
            if key is None:
                with self.lock:
                    if self.shut or len(self.workers) > 1:
                        self.workers.remove(me)
                        return
                continue
            self._serve(key, me)

    def _serve(self, key: int, me: _Worker) -> None:
        """Delivers a batch of node ``key``'s events, then hands it back."""
        served = self.nodes.get(key)
        if served is None:
            return
        native = served.native
        me.key = key
        self.local.key = key
        try:
            events = native.take_events(BATCH)
            self.delivered += len(events)
            for raw in events:
                if _exiting.is_set():
                    return  # not handed back: exit runs no more callbacks
                me.since = time.monotonic()
                try:
                    _deliver(served.node_ref(), native, NativeEvent(*raw))
                finally:
                    me.since = None
                    if _exiting.is_set():
                        with self.calm:
                            self.calm.notify_all()
        finally:
            me.key = None
            self.local.key = None
        if not _exiting.is_set() and native.release() == 2:
            self._finish(key)

    def _finish(self, key: int) -> None:
        """Lets go of a closed node whose events were all delivered."""
        with self.lock:
            served = self.nodes.pop(key, None)
        if served is not None:
            _end_streams(served.node_ref())
            served.finished.set()

    def _watch(self) -> None:
        """The watcher thread: more dispatchers when all are stuck, the
        drop warnings, and memory given back after a burst (:class:`_Trim`)."""
        checked = time.monotonic()
        while True:
            interval = DROP_LOG_INTERVAL
            stalled = self.hub.watch(STALL_AFTER, max(0.0, checked + interval - time.monotonic()))
            if self.shut:
                return
            now = time.monotonic()
            if stalled:
                with self.lock:
                    stuck = all(
                        w.since is not None and now - w.since >= STALL_AFTER for w in self.workers
                    )
                if stuck:
                    self._grow()
            if now - checked >= interval:
                checked = now
                delivered, self.delivered = self.delivered, 0
                if self.trim.look(delivered):
                    _log.debug(
                        "gave freed memory back after %d events: %.1f ms",
                        delivered,
                        1000 * (time.monotonic() - now),
                    )
                for served in list(self.nodes.values()):
                    if not served.native.closed:
                        served.watch.check(served.native)

    def close_all(self) -> None:
        """Interpreter exit: see :func:`_close_all`."""
        deadline = time.monotonic() + EXIT_GRACE
        for served in list(self.nodes.values()):
            served.native.close()  # a running callback that waits for this returns

        def busy() -> list[_Worker]:
            return [w for w in self.workers if w.since is not None]

        with self.calm:
            self.calm.wait_for(lambda: not busy(), max(0.0, deadline - time.monotonic()))
            stuck = sorted(
                self.nodes[w.key].native.name
                for w in busy()
                if w.key is not None and w.key in self.nodes
            )
            self.shut = True
            idle = [w.thread for w in self.workers if w.since is None]
        self.hub.shutdown()
        # Idle threads come back from the compiled core now, before Python
        # finalizes (a thread that comes back then aborts the process).
        for thread in [*idle, self.watcher]:
            if thread is not None:
                thread.join(1.0)
        if stuck:
            _log.warning(
                "exiting with callbacks still running on %s, after waiting %.0f s for them",
                ", ".join(stuck),
                EXIT_GRACE,
            )


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _the_pool() -> _Pool:
    """The process's dispatcher pool, started with the first node."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool()
        return _pool


def _served_names() -> list[str]:
    """The names of the nodes whose events the pool still serves (tests)."""
    return sorted(s.native.name for s in list(_pool.nodes.values())) if _pool else []


def _end_streams(node: Node | None) -> None:
    """Ends the event streams of a closed node (a collected one has none)."""
    if node is None:
        return
    with node._lock:
        ended = list(node._streams)
    for stream in ended:
        stream._offer(_CLOSED)


def _deliver(node: Node | None, native: _native.NativeNode, event: NativeEvent) -> None:
    """Runs the callbacks of ``event`` and feeds the streams of ``node``
    (``None`` once collected: then nobody listens). A callback that raises
    is reported through ``sys.unraisablehook`` and the others still run; an
    ``async def`` callback is scheduled on the loop the node was made in."""
    kind = event.kind
    # A live member event carries its member's tuple.
    args = callback_arguments(event, functools.partial(member_from_tuple, event.content))
    _log_event(native.name, kind, args)
    if node is None:
        return
    with node._lock:
        todo = list(node._callbacks.get(kind, ()))
        listening = list(node._streams)
    for callback in todo:
        try:
            result = callback(*args)
            if inspect.iscoroutine(result):
                _schedule(result, callback, kind, node)
        except BaseException as exc:  # reported, never fatal to the node
            _native.write_unraisable(exc, callback)
    if listening:
        typed = _typed(native, kind, args)
        if typed is not None:
            for stream in listening:
                stream._offer(typed)
        # Streams whose event loop has ended can never be read again.
        with node._lock:
            node._streams[:] = [s for s in node._streams if not s._loop.is_closed()]


class Node(NodeBase):
    """One member of a rumor cluster, gossiping over UDP on ``bind``.

    The node starts when it is created: it binds its socket, and its engine
    runs on a background Rust runtime that never waits for the GIL, so a busy
    Python program does not make it look dead. Callbacks run in order, one at
    a time per node, on dispatcher threads all nodes of the process share
    (never the caller's, never the runtime's); a callback that blocks holds
    up only its own node's later events, since the pool starts another
    thread when every one is stuck for :data:`STALL_AFTER` seconds, and an
    idle node wakes no thread. One that raises is reported through
    :func:`sys.unraisablehook` and the node keeps working. An ``async def``
    callback runs on the event loop the node was made in; a coroutine that
    cannot run (that loop has closed, or the node was made outside any) is
    closed with a :class:`RuntimeWarning` naming the callback.

    Used as a context manager, the node leaves the cluster gracefully and
    closes on exit. :meth:`close` alone stops it abruptly, which the other
    members see as a failure. A node nobody references any more is closed
    when it is garbage-collected, even if its own callbacks refer to it;
    close it to free its port at a known time.

    Args:
        name: unique name in the cluster; defaults to the advertised
            ``"<host>:<port>"``.
        bind: ``host:port`` to listen on; port 0 picks a free port.
            ``0.0.0.0:port`` or ``[::]:port`` listens on every interface;
            without ``advertise``, the node then advertises this host's
            routable address (the one the kernel would send from to a
            public address), or raises :class:`rumor.ArgumentError` if it
            has none. A node bound on an IPv6 address (``[::1]:0``) talks
            to IPv6 seeds and members.
        advertise: the address other members reach this node at, ``host``
            or ``host:port`` (the port defaults to the bound one): behind
            NAT, in a container, or with an unspecified ``bind``.
            :attr:`addr` is this address.
        config: protocol settings; defaults to :meth:`Config.lan`.
        meta: small metadata gossiped with this member (at most
            ``config.max_meta_size`` bytes): ``bytes``, ``bytearray`` or
            ``memoryview``.
        seed: seeds the engine's random choices, for reproducible runs.
    """

    def __init__(
        self,
        name: str | None = None,
        bind: str = "127.0.0.1:0",
        config: Config | None = None,
        *,
        meta: BytesLike = b"",
        seed: int | None = None,
        advertise: str | None = None,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise ArgumentTypeError(f"name must be a str or None, got {type(name).__name__}")
        if not isinstance(bind, str):
            raise ArgumentTypeError(f"bind must be a host:port str, got {type(bind).__name__}")
        if advertise is not None and not isinstance(advertise, str):
            raise ArgumentTypeError(
                f"advertise must be a host or host:port str, got {type(advertise).__name__}"
            )
        if config is not None and not isinstance(config, Config):
            raise ArgumentTypeError(f"config must be a rumor.Config, got {type(config).__name__}")
        self._native = _native.NativeNode(
            name,
            bind,
            config if config is not None else Config.lan(),
            check_bytes("meta", meta),
            check_seed(seed) if seed is not None else None,
            advertise,
        )
        self._lock = threading.Lock()
        self._callbacks: dict[str, list[AnyCallback]] = {k: [] for k in EVENT_KINDS}
        self._streams: list[EventStream] = []
        # async def callbacks run on the loop the node was made in. Without
        # asyncio loaded, no loop can be running.
        self._loop: asyncio.AbstractEventLoop | None = None
        running = sys.modules.get("asyncio")
        if running is not None:
            try:
                self._loop = running.get_running_loop()
            except RuntimeError:
                pass
        # The pool holds the native node and a weak reference to this Node
        # (see _Pool): collecting the Node closes the native node.
        self._served = _the_pool().add(self._native, weakref.ref(self))
        weakref.finalize(self, self._native.close)

    # -- identity ---------------------------------------------------------

    @property
    def name(self) -> str:
        """This member's name."""
        return self._native.name

    @property
    def addr(self) -> str:
        """The ``host:port`` other members reach this node at: ``advertise``
        if given, else the bound address (the real port if 0 was asked), or
        the host's routable address for an unspecified ``bind``."""
        return self._native.addr

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<rumor.Node {self.name!r} at {self.addr} ({state})>"

    def _repr_html_(self) -> str:
        """Jupyter's view: the node and its members, coloured by state."""
        head = f"<b>rumor.Node</b> {html.escape(self.name)} at {html.escape(self.addr)}"
        if self.closed:
            return head + " (closed)"
        members = self.members()
        return f"{head}: {counts_line(members)}{members_table(members)}"

    # -- membership -------------------------------------------------------

    def join(self, seeds: str | Iterable[str], timeout: float = 5.0) -> int:
        """Joins the cluster through one or more seed addresses (``host:port``).

        Sends the Meet handshake to every seed and returns as soon as one
        answers (so the return value is 1); the rest of the cluster then
        learns of this node through gossip. Seed names are resolved again
        at every attempt (every 2 s), to every address they have of this
        node's family, so a seed whose name resolves only later, or moves,
        is still found; one that does not resolve yet, or is this node's
        own address, is skipped meanwhile. These seeds are also the ones
        the node rejoins through, names resolved anew, when it has seen no
        live member for ``config.rejoin_interval``. After :meth:`leave`,
        joining again makes this node a member again everywhere, at a
        higher incarnation (the others report ``on_join``); a leave still
        being spread is called off.

        Raises:
            JoinError: no seed answered within ``timeout`` seconds (the
                message gives each seed's reason at the last attempt); at
                once if every seed is this node's own address.
            NameConflictError: a live member at another address holds this
                node's name (the message gives that address); the member is
                left as it was. A :class:`JoinError`.
            ArgumentError: a seed is not ``host:port`` (a ``ValueError``).
        """
        timeout = check_seconds("timeout", timeout)
        return self._native.join(seed_list(seeds), timeout)

    def on_restart(self, callback: _RC) -> _RC:
        """Calls ``callback(member, previous_addr)`` when a member comes back
        alive at a new address: a new process under its name, on another
        port or host, after its old one stopped (noticed or not): after
        ``on_join`` if it was dead or gone, alone if the old process had not
        been noticed gone; ``member.addr`` is the new address.

        Returns ``callback``, so it also works as a decorator.
        """
        return self._register("restart", callback)

    def leave(self, timeout: float = 5.0) -> None:
        """Leaves the cluster gracefully.

        Gossips a departure notice and waits until it has been sent enough
        times; the other members then report ``on_leave`` (never ``on_fail``).
        The node keeps running until :meth:`close`.

        Raises:
            TimeoutError: the notice was not spread within ``timeout`` seconds.
        """
        self._native.leave(check_seconds("timeout", timeout))

    async def join_async(self, seeds: str | Iterable[str], timeout: float = 5.0) -> int:
        """Awaitable :meth:`join`: the event loop keeps running while the
        handshake is under way. Raises the same errors."""
        timeout = check_seconds("timeout", timeout)
        return await self._native.join_async(seed_list(seeds), timeout)

    async def leave_async(self, timeout: float = 5.0) -> None:
        """Awaitable :meth:`leave`."""
        await self._native.leave_async(check_seconds("timeout", timeout))

    def _member_tuples(self) -> list[tuple[str, str, str, int, bytes]]:
        return self._native.members()

    @property
    def keyring(self) -> Keyring:
        """This node's encryption keys, changeable while it runs (see
        :class:`rumor.Keyring`; empty for a node started without keys)."""
        return Keyring(self._native)

    def set_meta(self, meta: BytesLike) -> None:
        """Replaces this member's metadata (``bytes``, ``bytearray`` or
        ``memoryview``) and gossips it to the cluster.

        Raises:
            ArgumentTypeError: ``meta`` is of another type (a ``TypeError``).
            MetaTooLargeError: ``meta`` is longer than ``config.max_meta_size``
                (a ``ValueError``).
        """
        self._native.set_meta(check_bytes("meta", meta))

    # -- dissemination ----------------------------------------------------

    def broadcast(self, payload: BytesLike) -> int:
        """Sends ``payload`` (``bytes``, ``bytearray`` or ``memoryview``;
        receivers get ``bytes``) to every member: rumor mongering spreads it at
        once, anti-entropy repairs what that misses. Every live member's
        ``on_rumor`` callbacks, this node's too, get it once (see
        :class:`rumor.Rumor` for who else does). Returns its sequence number.

        A payload too big for a datagram travels over TCP.

        Raises:
            ArgumentTypeError: ``payload`` is of another type, ``str``
                included (encode it first; a ``TypeError``).
            ItemError: ``payload`` is larger than :attr:`max_broadcast_size`
                (a ``ValueError``; the message says the limit).
        """
        return self._native.broadcast(check_bytes("payload", payload))

    @property
    def max_broadcast_size(self) -> int:
        """The largest payload :meth:`broadcast` accepts, in bytes."""
        return self._native.max_item_len(None)

    def set(self, key: str, value: ValueIn) -> None:
        """Sets ``key`` of this member's key-value map to ``value``: a
        ``str``, kept as text, or ``bytes``, ``bytearray`` or
        ``memoryview``, kept (and read back) as ``bytes``; every member sees
        it through :meth:`get`, :meth:`key_values` and ``on_update``.

        Raises:
            ArgumentTypeError: ``value`` is of another type (a
                ``TypeError``).
            ItemError: the key is empty or longer than 256 bytes, or the
                value is larger than :attr:`max_broadcast_size` allows (a
                ``ValueError``).
        """
        self._native.set(check_str("key", key), check_value("value", value))

    def delete(self, key: str) -> None:
        """Deletes ``key`` of this member's key-value map (a tombstone that
        spreads like a write)."""
        self._native.delete(check_str("key", key))

    def get(self, member: str, key: str) -> Value | None:
        """``member``'s value of ``key`` as this node knows it; ``None`` if
        missing or deleted."""
        return self._native.get(check_str("member", member), check_str("key", key))

    def key_values(self, member: str) -> dict[str, Value]:
        """``member``'s key-value map (what it :meth:`set`) as this node
        knows it."""
        return self._native.key_values(check_str("member", member))

    def stats(self) -> dict[str, int]:
        """Counters: packets and bytes sent and received, dropped datagrams by
        reason, messages by kind, probes, suspicions, refutations; gauges:
        ``members_<state>``, ``update_queue`` (membership updates waiting to
        be piggybacked), ``push_queue`` (rumors and items being pushed),
        ``event_queue`` (events waiting for callbacks), ``health_multiplier``
        (Lifeguard's local health) and ``task_panicked``. ``pushes_evicted``
        counts rumors and items this node gave up pushing because its push
        queue was full; anti-entropy still delivers them."""
        return self._native.stats()

    def _probe_rtt(self) -> ProbeRtt:
        return ProbeRtt(*self._native.probe_rtt())

    # -- callbacks --------------------------------------------------------

    def _store(self, kind: str, callback: AnyCallback) -> None:
        if inspect.iscoroutinefunction(callback) and self._loop is None:
            raise ArgumentTypeError(
                f"on_{kind}: an async def callback needs a node made inside a running "
                "event loop (it runs on that loop)"
            )
        with self._lock:
            self._callbacks[kind].append(callback)

    # -- asyncio ----------------------------------------------------------

    def events(self, maxsize: int = 10_000) -> EventStream:
        """An async iterator over this node's events from now on, as typed
        objects (:class:`rumor.Joined`, :class:`rumor.Failed`,
        :class:`rumor.Updated`, :class:`rumor.RumorReceived`, ...)::

            async with node.events() as stream:
                async for event in stream:
                    ...

        Call it inside a running event loop; events arrive on that loop.
        Several streams may run at once, each getting every event. A stream
        holds at most ``maxsize`` unread events: past that, newer ones are
        dropped for that stream only and counted in ``stream.dropped``.
        Iteration ends when the node closes.
        """
        stream = EventStream(maxsize, self._unsubscribe)
        with self._lock:
            self._streams.append(stream)
        if self.closed:
            stream._offer(_CLOSED)
        return stream

    def _unsubscribe(self, stream: EventStream) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    async def wait_for_members(self, n: int, timeout: float = 10.0) -> list[Member]:
        """Waits until at least ``n`` members, this one included, are alive
        in this node's view; returns them.

        Raises:
            rumor.TimeoutError: fewer than ``n`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        async with self.events(maxsize=1) as stream:
            while True:
                alive = self.members(state=MemberState.ALIVE)
                if len(alive) >= n:
                    return alive
                if self.closed:
                    raise NodeClosedError(f"{self.name} closed while waiting for {n} members")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(alive)} of {n} members alive after {timeout} s")
                # Any event may be the one; the view is read again after it.
                import asyncio  # loaded already: this coroutine runs on it

                try:
                    await asyncio.wait_for(stream.__anext__(), left)
                except (asyncio.TimeoutError, StopAsyncIteration):
                    pass

    # -- lifecycle --------------------------------------------------------

    def close(self) -> None:
        """Stops the node at once: its socket closes and its tasks end.

        Without a prior :meth:`leave`, the other members detect this node as
        failed. Waits up to 5 s for the callbacks of the events queued before
        the close to run (not when called from one of this node's own).
        Idempotent.
        """
        self._native.close()
        if _pool is None or _pool.serving() is not self._native:
            self._served.finished.wait(timeout=5.0)


@atexit.register
def _close_all() -> None:
    """At interpreter exit, closes every node still open, all at once, then
    waits for the dispatchers to finish the callbacks they are running:
    a thread that comes back from the compiled core while Python finalizes
    aborts the process. One deadline, :data:`EXIT_GRACE` from now, for all
    of them; past it, exit goes on and says which nodes it gave up on.
    Events still queued get no callback: the wait is for work started."""
    _exiting.set()
    if _pool is not None:
        _pool.close_all()
