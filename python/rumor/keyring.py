"""A node's encryption keys, changeable while it runs (key rotation)."""

from __future__ import annotations

from typing import Protocol

from rumor._base import check_bytes
from rumor.errors import RumorError


class _KeyHolder(Protocol):
    def keys(self) -> list[bytes]: ...
    def add_key(self, key: bytes) -> None: ...
    def use_key(self, key: bytes) -> None: ...
    def remove_key(self, key: bytes) -> None: ...


class Keyring:
    """The keys a node seals and opens datagrams with: ``node.keyring``.

    A node started with ``Config(keys=[...])`` seals everything it sends
    with the primary key (the first) and accepts datagrams sealed with any
    key it holds. To rotate keys with no downtime, on every node in turn:
    ``add(new)``; then on every node ``use(new)``; then ``remove(old)``.
    Each change is effective at once. Keys are 32 random bytes, for example
    ``secrets.token_bytes(32)``.

    Raises :class:`rumor.KeyringError` (a ``ValueError``) for a change the
    keyring refuses (an unknown key, the primary, an all-zero key, a full
    keyring, a node started without keys), :class:`rumor.ArgumentError` (a
    ``ValueError``) for a key that is not 32 bytes and
    :class:`rumor.ArgumentTypeError` (a ``TypeError``) for one that is not
    bytes.
    """

    def __init__(self, holder: _KeyHolder) -> None:
        self._holder = holder

    @property
    def keys(self) -> list[bytes]:
        """The keys, the primary first (empty for a node without encryption)."""
        return self._holder.keys()

    @property
    def primary(self) -> bytes | None:
        """The key datagrams are sealed with, or ``None`` without encryption."""
        keys = self.keys
        return keys[0] if keys else None

    def add(self, key: bytes) -> None:
        """Accepts ``key`` from now on; sealing still uses the primary.
        Adding a key already held does nothing."""
        self._holder.add_key(check_bytes("key", key))

    def use(self, key: bytes) -> None:
        """Seals with ``key``, which must have been added, from now on."""
        self._holder.use_key(check_bytes("key", key))

    def remove(self, key: bytes) -> None:
        """Stops accepting ``key``; the primary key cannot be removed."""
        self._holder.remove_key(check_bytes("key", key))

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        try:
            return f"<rumor.Keyring with {len(self)} keys>"
        except RumorError:
            return "<rumor.Keyring of a closed node>"
