"""The exceptions rumor raises: one hierarchy rooted at :class:`RumorError`.

Each subclasses the built-in exception a caller would already catch, so
``except ValueError`` still works for a bad config and ``except
ConnectionError`` for a join that reached nobody.
"""

from __future__ import annotations

import builtins

__all__ = [
    "ConfigError",
    "JoinError",
    "KeyringError",
    "NodeClosedError",
    "RumorError",
    "TimeoutError",
]


class RumorError(Exception):
    """Base class of every error raised by rumor."""


class ConfigError(RumorError, ValueError):
    """A setting is out of its allowed range; the message names the field."""


class KeyringError(RumorError, ValueError):
    """A keyring change was refused: an unknown key, removing the primary key,
    a full keyring, or a node started without keys."""


class JoinError(RumorError, ConnectionError):
    """No seed answered the join handshake before the timeout."""


class TimeoutError(RumorError, builtins.TimeoutError):
    """An operation did not complete in time (for example a graceful leave)."""


class NodeClosedError(RumorError, RuntimeError):
    """The node was closed; it cannot be used any more."""
