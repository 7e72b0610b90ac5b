"""The ``on_*`` registration methods shared by :class:`rumor.Node` and
:class:`rumor.SimNode`: one set of names and docs, two ways to store."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rumor.member import Member

__all__ = ["CallbackRegistry", "MemberCallback"]

MemberCallback = Callable[[Member], object]
"""A callback receiving the :class:`Member` an event is about."""

_C = TypeVar("_C", bound=MemberCallback)


class CallbackRegistry:
    """Mixin: ``on_join`` … ``on_alive``, each checking its argument and
    handing it to :meth:`_store`."""

    def _store(self, kind: str, callback: MemberCallback) -> None:
        raise NotImplementedError

    def _register(self, kind: str, callback: _C) -> _C:
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
