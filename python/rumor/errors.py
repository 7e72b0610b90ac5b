"""The exceptions rumor raises: one hierarchy rooted at :class:`RumorError`.

Every exception rumor raises for a reason of its own is a :class:`RumorError`,
and each also subclasses the built-in exception a caller would already
catch, so ``except ValueError`` still works for a bad argument and ``except
ConnectionError`` for a join that reached nobody::

    RumorError
    ├── ArgumentError (ValueError)      an argument out of its allowed range
    │   ├── ConfigError                 a Config setting out of its range
    │   ├── ItemError                   a payload, key or value refused
    │   ├── MetaTooLargeError           metadata over max_meta_size
    │   └── KeyringError                a keyring change refused
    ├── ArgumentTypeError (TypeError)   an argument of the wrong type
    ├── JoinError (ConnectionError)     no seed answered a join
    │   └── NameConflictError           a live member holds this node's name
    ├── TimeoutError (TimeoutError)     an operation did not complete in time
    ├── NodeClosedError (RuntimeError)  the node is closed or down
    ├── UsageError (RuntimeError)       a call that cannot be made now
    ├── BindError (OSError)             the gossip socket could not be bound
    └── EntropyError (OSError)          no randomness from the system

The compiled core raises them from one place (``src/python/error.rs``).
"""

from __future__ import annotations

import builtins

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "BindError",
    "ConfigError",
    "EntropyError",
    "ItemError",
    "JoinError",
    "KeyringError",
    "MetaTooLargeError",
    "NameConflictError",
    "NodeClosedError",
    "RumorError",
    "TimeoutError",
    "UsageError",
]


class RumorError(Exception):
    """Base class of every error raised by rumor."""


class ArgumentError(RumorError, ValueError):
    """An argument is out of its allowed range; the message names the
    argument, the range and the value given."""


class ArgumentTypeError(RumorError, TypeError):
    """An argument has the wrong type; the message names the argument and
    the type expected."""


class ConfigError(ArgumentError):
    """A setting is out of its allowed range; the message names the field."""


class ItemError(ArgumentError):
    """A broadcast payload, replicated-state key or value was refused: too
    large (see ``Node.max_broadcast_size``), or a key of a bad length."""


class MetaTooLargeError(ArgumentError):
    """Metadata is longer than ``config.max_meta_size`` allows."""


class KeyringError(ArgumentError):
    """A keyring change was refused: an unknown key, removing the primary key,
    a full keyring, or a node started without keys."""


class JoinError(RumorError, ConnectionError):
    """No seed answered the join handshake before the timeout."""


class NameConflictError(JoinError):
    """A live member already holds this node's name, at the address the
    message gives: names are identities, so the join fails rather than take
    the name over (a second process started under a running member's name).
    A member that restarts under its name after its old process stopped is
    not refused: its old address is found closed or silent."""


class TimeoutError(RumorError, builtins.TimeoutError):
    """An operation did not complete in time (for example a graceful leave)."""


class NodeClosedError(RumorError, RuntimeError):
    """The node was closed (or, simulated, is down); it cannot act."""


class UsageError(RumorError, RuntimeError):
    """A call that cannot be made now: a simulated node that is paused, or a
    simulation run from inside one of its own callbacks."""


class BindError(RumorError, OSError):
    """The gossip socket could not be bound (``errno`` says why, as for any
    ``OSError``)."""


class EntropyError(RumorError, OSError):
    """The operating system gave no randomness for encryption nonces."""
