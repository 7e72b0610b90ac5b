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

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Union

from rumor.member import Member
from rumor.news import Rumor, Value

__all__ = [
    "Alive",
    "Event",
    "EventStream",
    "Failed",
    "Joined",
    "Left",
    "RumorReceived",
    "Suspected",
    "Updated",
]


@dataclass(frozen=True)
class Joined:
    """A member joined, or came back after a failure."""

    member: Member


@dataclass(frozen=True)
class Left:
    """A member left gracefully (never reported as a failure)."""

    member: Member


@dataclass(frozen=True)
class Failed:
    """A member was declared dead."""

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


Event = Union[Joined, Left, Failed, Suspected, Alive, Updated, RumorReceived]
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
            raise TypeError(f"maxsize must be an int, got {type(maxsize).__name__}")
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize)
        self._lock = threading.Lock()
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
        dispatcher thread."""
        try:
            self._loop.call_soon_threadsafe(self._put, item)
        except RuntimeError:
            pass  # the loop is closed: nobody is listening any more

    def _put(self, item: object) -> None:
        if item is _CLOSED:
            self._closed = True
            # Room for the end marker even in a full queue.
            if self._queue.full():
                self._queue.get_nowait()
                with self._lock:
                    self._dropped += 1
            self._queue.put_nowait(item)
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            with self._lock:
                self._dropped += 1

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _CLOSED:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Stops the stream: no more events are queued for it."""
        if not self._closed:
            self._closed = True
            self._on_close(self)
            self._put(_CLOSED)

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
