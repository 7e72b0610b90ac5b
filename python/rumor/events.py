"""Typed events, and the asyncio stream that yields them: ``node.events()``.

Each event is a frozen, hashable dataclass carrying the :class:`Member` it
is about (as the node saw it when the event was delivered) and, for updates
and rumors, the key and value or the payload::

    async for event in node.events():
        match event:
            case rumor.Failed(member):
                print(member.name, "failed")
            case rumor.Updated(member, key, value):
                ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Union

from rumor.errors import ArgumentError, ArgumentTypeError
from rumor.member import Member
from rumor.news import Rumor, Value

if TYPE_CHECKING:
    import asyncio  # imported when a stream is made: see rumor.node

__all__ = [
    "Alive",
    "Event",
    "EventStream",
    "Failed",
    "Joined",
    "Left",
    "Restarted",
    "RumorReceived",
    "Suspected",
    "Updated",
]


@dataclass(frozen=True)
class Joined:
    """A member joined, or came back after a failure."""

    member: Member


@dataclass(frozen=True)
class Restarted:
    """A member came back alive at a new address (a new process under its
    name, on another port or host), after :class:`Joined` if it was dead or
    gone, alone if it was held live; ``previous_addr`` is where it was
    before."""

    member: Member
    previous_addr: str


@dataclass(frozen=True)
class Left:
    """A member left gracefully (never reported as a failure)."""

    member: Member


@dataclass(frozen=True)
class Failed:
    """A member was declared dead; ``member.failure_reason`` says why (see
    :attr:`rumor.Member.failure_reason`)."""

    member: Member


@dataclass(frozen=True)
class Suspected:
    """A member is suspected of failing (under the quorum detector: this node
    cannot reach it)."""

    member: Member


@dataclass(frozen=True)
class Alive:
    """A suspected member proved alive."""

    member: Member


@dataclass(frozen=True)
class Updated:
    """A key of ``member``'s replicated state changed; ``value`` is ``None``
    once the key is deleted."""

    member: Member
    key: str
    value: Value | None


@dataclass(frozen=True)
class RumorReceived:
    """A broadcast arrived (this node's own included); ``member`` is its origin."""

    member: Member
    rumor: Rumor

    @property
    def payload(self) -> bytes:
        """What was broadcast."""
        return self.rumor.payload


Event = Union[Joined, Restarted, Left, Failed, Suspected, Alive, Updated, RumorReceived]
"""Any event :meth:`rumor.Node.events` yields."""

_CLOSED = object()
"""Put in a stream's queue when its node closes: iteration ends there."""


class EventStream:
    """An async iterator over a node's events, from the moment it was made.

    Made by :meth:`rumor.Node.events` inside a running event loop; events
    arrive on that loop. Its queue holds at most ``maxsize`` events: while it
    is full, newer events are dropped for this stream only and counted in
    :attr:`dropped`, so a consumer that falls behind costs bounded memory
    and never slows the node or other streams. Iteration ends when the node
    closes, or when the stream is closed (``async with``, :meth:`aclose`).
    """

    def __init__(self, maxsize: int, on_close: Callable[[EventStream], None]) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise ArgumentTypeError(f"maxsize must be an int, got {type(maxsize).__name__}")
        if maxsize < 1:
            raise ArgumentError(f"maxsize must be at least 1, got {maxsize}")
        import asyncio

        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        # Events scheduled on the loop or queued, not yet read: the bound
        # is enforced here, on the dispatcher's side, so a blocked loop
        # cannot pile up scheduled calls either.
        self._held = 0
        self._dropped = 0
        self._closed = False
        self._on_close = on_close

    @property
    def dropped(self) -> int:
        """Events this stream missed because its queue was full."""
        with self._lock:
            return self._dropped

    def _offer(self, item: object) -> None:
        """Queues ``item`` on the stream's loop; called from the node's
        dispatcher thread. Past ``maxsize`` unread events, drops and counts
        it (the end marker always goes)."""
        if item is not _CLOSED:
            with self._lock:
                if self._closed:
                    return
                if self._held >= self._maxsize:
                    self._dropped += 1
                    return
                self._held += 1
        try:
            self._loop.call_soon_threadsafe(self._put, item)
        except RuntimeError:
            pass  # the loop is closed: nobody is listening any more

    def _put(self, item: object) -> None:
        if item is _CLOSED:
            with self._lock:
                self._closed = True
        elif self._closed:
            with self._lock:
                self._held -= 1
            return  # closed meanwhile: nobody will read it
        self._queue.put_nowait(item)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(item)  # every later call ends too
            raise StopAsyncIteration
        with self._lock:
            self._held -= 1
        return item  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Stops the stream: unread events are discarded, none is queued
        any more, and iteration ends."""
        with self._lock:
            already = self._closed
            self._closed = True
        if already:
            return
        self._on_close(self)
        drained = 0
        while not self._queue.empty():
            if self._queue.get_nowait() is not _CLOSED:
                drained += 1
        with self._lock:
            self._held -= drained
        self._queue.put_nowait(_CLOSED)

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
