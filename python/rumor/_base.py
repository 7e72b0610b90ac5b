"""What :class:`rumor.Node` and :class:`rumor.SimNode` share: the ``on_*``
registration, the callback arguments of an event, the ``members(state=)``
filter, argument checks, ``metrics_text()`` and the context manager. Each
subclass supplies only how it stores callbacks and reaches its engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, NamedTuple, Optional, TypeVar, Union

from rumor import _native
from rumor.errors import ArgumentError, ArgumentTypeError, RumorError
from rumor.member import Accusation, Member, MemberState
from rumor.metrics import ProbeRtt, prometheus_text
from rumor.news import Rumor, Value

__all__ = [
    "EVENT_KINDS",
    "AnyCallback",
    "BytesLike",
    "MemberCallback",
    "NativeEvent",
    "NodeBase",
    "RefuteCallback",
    "RestartCallback",
    "RumorCallback",
    "UpdateCallback",
    "ValueIn",
    "callback_arguments",
    "check_bytes",
    "check_seconds",
    "check_seed",
    "check_str",
    "check_value",
    "member_from_tuple",
    "member_state",
    "optional_str",
    "seed_list",
]

EVENT_KINDS = (
    "join",
    "leave",
    "fail",
    "suspect",
    "alive",
    "rumor",
    "update",
    "refute",
    "restart",
)
"""The kinds of event a callback can be registered for, ``on_<kind>``; the
simulator's event log uses the same names."""

MemberCallback = Callable[[Member], object]
"""A callback receiving the :class:`Member` an event is about."""

RumorCallback = Callable[[Rumor], object]
"""A callback receiving a :class:`Rumor`."""

# Optional, not "| None": this line runs on Python 3.9 too.
UpdateCallback = Callable[[str, str, Optional[Value]], object]
"""A callback receiving ``(member, key, value)`` of a key-value change;
``value`` is ``None`` once the key is deleted."""

RefuteCallback = Callable[[Accusation], object]
"""A callback receiving an :class:`Accusation` this node refuted."""

RestartCallback = Callable[[Member, str], object]
"""A callback receiving ``(member, previous_addr)`` of a member back at a
new address."""

AnyCallback = Callable[..., Any]
"""Any of the above, as stored."""

_C = TypeVar("_C", bound=MemberCallback)
_R = TypeVar("_R", bound=RumorCallback)
_U = TypeVar("_U", bound=UpdateCallback)
_S = TypeVar("_S", bound=RefuteCallback)
_T = TypeVar("_T", bound=AnyCallback)
_N = TypeVar("_N", bound="NodeBase")


class NativeEvent(NamedTuple):
    """An event as the compiled core hands it over, live or simulated."""

    kind: str
    """One of :data:`EVENT_KINDS`."""
    subject: str
    """The member it is about; the origin of a rumor; the refuting node."""
    number: int
    """The member's incarnation; a rumor's sequence number; the version of
    a key; the incarnation a refutation announced."""
    content: Any
    """A member event's member tuple (``None`` from the simulator; a
    ``fail`` event's has its failure reason appended, and from the simulator
    is the reason alone when known); a rumor's payload; ``(key, value or
    None)`` of an update; the state a refuted accusation claimed."""


def member_from_tuple(
    raw: tuple[str, str, str, int, bytes] | tuple[str, str, str, int, bytes, str | None],
) -> Member:
    """A :class:`Member` from the compiled core's member tuple (a ``fail``
    event's has the failure reason appended)."""
    name, addr, state, incarnation, meta = raw[:5]
    reason = raw[5] if len(raw) > 5 else None
    return Member(name, addr, MemberState(state), incarnation, meta, reason)


def callback_arguments(event: NativeEvent, member: Callable[[], Member]) -> tuple[Any, ...]:
    """The arguments ``on_<event.kind>`` callbacks get: a :class:`Rumor`,
    ``(member, key, value)``, an :class:`Accusation`, or the :class:`Member`
    the event is about, which ``member()`` builds (only then)."""
    if event.kind == "rumor":
        return (Rumor(event.subject, event.number, event.content),)
    if event.kind == "update":
        key, value = event.content
        return (event.subject, key, value)
    if event.kind == "refute":
        return (Accusation(MemberState(event.content), event.number),)
    if event.kind == "restart":
        raw, previous = event.content
        return (member_from_tuple(raw), previous)
    if event.kind == "fail" and isinstance(event.content, str):
        # The simulator's fail record carries only the reason.
        return (dataclasses.replace(member(), failure_reason=event.content),)
    return (member(),)


def check_seconds(field: str, value: float) -> float:
    """``value`` as a float of seconds; :class:`rumor.ArgumentError` naming
    ``field`` and the range (0 to 1e9) otherwise, or
    :class:`rumor.ArgumentTypeError` for a value that is not a number. The
    compiled core checks every duration it takes with this same rule."""
    return _native.seconds(field, value)


def check_str(field: str, value: object) -> str:
    """``value`` if it is a ``str``; :class:`rumor.ArgumentTypeError`
    naming ``field`` otherwise."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{field} must be a str, got {type(value).__name__}")
    return value


def optional_str(field: str, value: object) -> str | None:
    """:func:`check_str`, letting ``None`` through."""
    return None if value is None else check_str(field, value)


BytesLike = Union[bytes, bytearray, memoryview]
"""What every payload, value and metadata argument accepts as bytes."""

ValueIn = Union[str, bytes, bytearray, memoryview]
"""What ``set`` accepts as a value: text, or bytes as :data:`BytesLike`."""

_BYTES_TYPES = "bytes, bytearray or memoryview"


def check_bytes(field: str, value: object) -> bytes:
    """``value`` as ``bytes`` if it is ``bytes``, ``bytearray`` or
    ``memoryview``; :class:`rumor.ArgumentTypeError` naming ``field`` and
    those types otherwise (``bytes(5)`` would quietly be five zero bytes,
    ``bytes([1, 2])`` two bytes, and a ``str`` has no one encoding)."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"{field} must be {_BYTES_TYPES}, got {type(value).__name__}")
    return bytes(value)


def check_value(field: str, value: object) -> Value:
    """A replicated-state value: a ``str`` as it is, bytes-like as
    ``bytes``; :class:`rumor.ArgumentTypeError` naming ``field`` and the
    accepted types otherwise."""
    if isinstance(value, str):
        return value
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"{field} must be str, {_BYTES_TYPES}, got {type(value).__name__}")
    return bytes(value)


def check_seed(seed: int) -> int:
    """``seed`` checked: an int from 0 to 2**64 - 1, the engine's RNG seed."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ArgumentTypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**64:
        raise ArgumentError(f"seed must be between 0 and 2**64 - 1, got {seed}")
    return seed


def member_state(field: str, value: MemberState | str) -> MemberState:
    """``value`` as a :class:`MemberState`; :class:`rumor.ArgumentError`
    naming ``field`` and the states otherwise."""
    try:
        return MemberState(value)
    except ValueError:
        allowed = ", ".join(s.value for s in MemberState)
        raise ArgumentError(f"{field} must be one of {allowed}, got {value!r}") from None


def seed_list(seeds: str | Iterable[str]) -> list[str]:
    """Seeds as a list: one ``str`` or an iterable of them."""
    if isinstance(seeds, str):
        return [seeds]
    if not isinstance(seeds, Iterable):
        raise ArgumentTypeError(
            f"seeds must be a str or an iterable of str, got {type(seeds).__name__}"
        )
    out = list(seeds)
    for seed in out:
        if not isinstance(seed, str):
            raise ArgumentTypeError(f"seeds must hold str, got {type(seed).__name__}")
    return out


class NodeBase:
    """Base of :class:`rumor.Node` and :class:`rumor.SimNode`."""

    # -- what each subclass supplies --------------------------------------

    @property
    def name(self) -> str:
        """This member's name."""
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        """Whether the node is closed (simulated: down)."""
        raise NotImplementedError

    def leave(self, timeout: float = 5.0) -> None:
        """Leaves the cluster gracefully."""
        raise NotImplementedError

    def close(self) -> None:
        """Stops the node at once."""
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        """The node's counters and gauges."""
        raise NotImplementedError

    def _store(self, kind: str, callback: AnyCallback) -> None:
        """Keeps ``callback`` for events of ``kind``."""
        raise NotImplementedError

    def _member_tuples(self) -> list[tuple[str, str, str, int, bytes]]:
        """The member table, as the compiled core gives it."""
        raise NotImplementedError

    def _probe_rtt(self) -> ProbeRtt:
        """The probe round-trip histogram, from the same snapshot."""
        raise NotImplementedError

    # -- membership -------------------------------------------------------

    def members(self, state: MemberState | str | None = None) -> list[Member]:
        """Every member this node knows, itself included, in name order.

        Dead and departed members stay listed with their state until reaped;
        pass ``state`` to keep only members in that state.

        Raises:
            ArgumentError: ``state`` is not a member state.
        """
        wanted = member_state("state", state) if state is not None else None
        out = [member_from_tuple(raw) for raw in self._member_tuples()]
        return [m for m in out if wanted is None or m.state is wanted]

    # -- metrics ----------------------------------------------------------

    def metrics_text(self) -> str:
        """This node's counters and gauges in Prometheus's text format, ready
        to serve on a ``/metrics`` endpoint: members by state, queue depths,
        messages by kind, a probe round-trip histogram, drops by reason, and
        every other counter of :meth:`stats`, labelled ``node="<name>"``."""
        return prometheus_text(self.name, self.stats(), self._probe_rtt())

    # -- callbacks --------------------------------------------------------

    def _register(self, kind: str, callback: _T) -> _T:
        if not callable(callback):
            raise ArgumentTypeError(f"on_{kind} expects a callable, got {type(callback).__name__}")
        self._store(kind, callback)
        return callback

    def on_join(self, callback: _C) -> _C:
        """Calls ``callback(member)`` when a member joins or comes back.

        Returns ``callback``, so it also works as a decorator.
        """
        return self._register("join", callback)

    def on_leave(self, callback: _C) -> _C:
        """Calls ``callback(member)`` when a member leaves gracefully."""
        return self._register("leave", callback)

    def on_fail(self, callback: _C) -> _C:
        """Calls ``callback(member)`` when a member is declared dead; the
        member's ``failure_reason`` says why (``"closed_port"``,
        ``"suspicion_timeout"``, ``"quorum"``, or ``None`` when unknown)."""
        return self._register("fail", callback)

    def on_suspect(self, callback: _C) -> _C:
        """Calls ``callback(member)`` when a member is suspected of failing."""
        return self._register("suspect", callback)

    def on_alive(self, callback: _C) -> _C:
        """Calls ``callback(member)`` when a suspected member proves alive."""
        return self._register("alive", callback)

    def on_rumor(self, callback: _R) -> _R:
        """Calls ``callback(rumor)`` once for each broadcast this member
        receives, its own included (see :class:`rumor.Rumor`)."""
        return self._register("rumor", callback)

    def on_refute(self, callback: _S) -> _S:
        """Calls ``callback(accusation)`` when this node learns that others
        hold it suspect, dead or departed, once it has refuted (announced a
        higher incarnation). Frequent accusations of a healthy node point
        to a slow process or network (see Lifeguard's local health)."""
        return self._register("refute", callback)

    def on_update(self, callback: _U) -> _U:
        """Calls ``callback(member, key, value)`` when a key of a member's
        key-value map changes (``value`` is ``None`` once deleted), this
        member's own keys included."""
        return self._register("update", callback)

    # -- lifecycle --------------------------------------------------------

    def __enter__(self: _N) -> _N:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Only RumorError is swallowed: every way a leave can fail (a timeout,
        # a node closed or paused meanwhile) is one, and closing matters more
        # than a late leave. Anything else is a bug, and KeyboardInterrupt
        # must stop the program: both propagate, after the close.
        try:
            if not self.closed:
                self.leave(timeout=2.0)
        except RumorError:
            pass
        finally:
            self.close()
