"""The ``on_*`` registration methods shared by :class:`rumor.Node` and
:class:`rumor.SimNode`: one set of names and docs, two ways to store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional, TypeVar

from rumor.member import Accusation, Member
from rumor.news import Rumor, Value

__all__ = ["AnyCallback", "CallbackRegistry", "MemberCallback", "RumorCallback", "UpdateCallback"]

MemberCallback = Callable[[Member], object]
"""A callback receiving the :class:`Member` an event is about."""

RumorCallback = Callable[[Rumor], object]
"""A callback receiving a :class:`Rumor`."""

# Optional, not "| None": this line runs on Python 3.9 too.
UpdateCallback = Callable[[str, str, Optional[Value]], object]
"""A callback receiving ``(member, key, value)`` of a state change; ``value``
is ``None`` once the key is deleted."""

SelfCallback = Callable[[Accusation], object]
"""A callback receiving an :class:`Accusation` of this node."""

AnyCallback = Callable[..., Any]
"""Any of the above, as stored."""

_C = TypeVar("_C", bound=MemberCallback)
_R = TypeVar("_R", bound=RumorCallback)
_U = TypeVar("_U", bound=UpdateCallback)
_S = TypeVar("_S", bound=SelfCallback)
_T = TypeVar("_T", bound=AnyCallback)


class CallbackRegistry:
    """Mixin: ``on_join`` … ``on_alive``, each checking its argument and
    handing it to :meth:`_store`."""

    def _store(self, kind: str, callback: AnyCallback) -> None:
        raise NotImplementedError

    def _register(self, kind: str, callback: _T) -> _T:
        if not callable(callback):
            raise TypeError(f"on_{kind} expects a callable, got {type(callback).__name__}")
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
        """Calls ``callback(member)`` when a member is declared dead."""
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

    def on_self(self, callback: _S) -> _S:
        """Calls ``callback(accusation)`` when this node learns that others
        hold it suspect, dead or departed, once it has refuted (announced a
        higher incarnation). Frequent accusations of a healthy node point
        to a slow process or network (see Lifeguard's local health)."""
        return self._register("self", callback)

    def on_update(self, callback: _U) -> _U:
        """Calls ``callback(member, key, value)`` when a key of a member's
        replicated state changes (``value`` is ``None`` once deleted), this
        member's own keys included."""
        return self._register("update", callback)
