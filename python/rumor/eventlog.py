"""What a simulation recorded: :class:`Record` and :class:`EventLog`."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, overload

__all__ = ["EventLog", "Record"]


class Record(NamedTuple):
    """One line of a simulation's event log: at ``time``, ``node`` reported
    ``kind`` about ``subject``, at ``subject``'s ``incarnation`` as the
    event saw it.

    ``kind`` is one of ``join``, ``leave``, ``fail``, ``suspect``, ``alive``
    (what ``node`` learned about ``subject``), ``refute``,
    ``join_succeeded``, ``join_failed``, ``leave_done`` (about itself:
    ``subject == node``), or ``killed``, ``restarted``, ``paused``,
    ``resumed``, ``stalled``, ``unstalled`` (what the simulation did to
    ``node``).
    """

    time: float
    """Virtual time, in seconds since the simulation started."""
    node: str
    """The node that reported it."""
    kind: str
    """What happened."""
    subject: str
    """The node it is about."""
    incarnation: int = 0
    """The subject's incarnation in the event (the new one for ``refute``;
    for ``join_succeeded``, ``join_failed``, ``leave_done`` the node's own
    at the end of the simulator step; 0 for ``killed``, ``restarted``,
    ``paused``, ``resumed``, ``stalled``, ``unstalled``)."""


class EventLog(Sequence[Record]):
    """The records of a simulation, in the order they were written.

    A snapshot: later runs do not change it. Behaves as a read-only list of
    :class:`Record` (frozen named tuples), compares equal to another log with
    the same records, and converts to a ``pandas.DataFrame`` with
    :meth:`to_pandas`.
    """

    __slots__ = ("_records",)

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._records: tuple[Record, ...] = tuple(records)

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> EventLog: ...
    def __getitem__(self, index: int | slice) -> Record | EventLog:
        if isinstance(index, slice):
            return EventLog(self._records[index])
        return self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self._records)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventLog):
            return self._records == other._records
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return list(self._records) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a log compares by value, like a list

    def __repr__(self) -> str:
        head = ", ".join(repr(r) for r in self._records[:3])
        more = f", ... ({len(self._records) - 3} more)" if len(self._records) > 3 else ""
        return f"EventLog([{head}{more}])"

    def filter(
        self,
        *,
        node: str | None = None,
        kind: str | None = None,
        subject: str | None = None,
    ) -> EventLog:
        """The records by ``node``, of ``kind`` and about ``subject`` (each
        filter applied only when given)."""
        return EventLog(
            r
            for r in self._records
            if (node is None or r.node == node)
            and (kind is None or r.kind == kind)
            and (subject is None or r.subject == subject)
        )

    def to_pandas(self) -> Any:
        """The log as a ``pandas.DataFrame`` with columns ``time``, ``node``,
        ``kind``, ``subject`` and ``incarnation``.

        Raises:
            ImportError: pandas is not installed (``pip install pandas``).
        """
        try:
            pandas = importlib.import_module("pandas")
        except ImportError as exc:
            raise ImportError(
                "EventLog.to_pandas() needs pandas, which is not installed: pip install pandas"
            ) from exc
        return pandas.DataFrame(self._records, columns=list(Record._fields))
