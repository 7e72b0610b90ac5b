"""Plots of a simulation, drawn with matplotlib (``pip install rumor[plot]``).

matplotlib is imported only when a plot is drawn, so ``import rumor`` never
needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rumor.errors import ArgumentError

if TYPE_CHECKING:
    from matplotlib.axes import Axes  # type: ignore[import-not-found, unused-ignore]

    from rumor.sim import Simulation

__all__ = ["plot_spread"]

_KINDS = ("join", "fail", "suspect", "leave", "alive")


def _pyplot() -> Any:
    try:
        return importlib.import_module("matplotlib.pyplot")
    except ImportError as exc:
        raise ImportError(
            "rumor.plot needs matplotlib, which is not installed: pip install rumor[plot]"
        ) from exc


def spread(sim: Simulation, subject: str, kind: str = "fail") -> list[tuple[float, int]]:
    """``(time, nodes)`` steps: how many nodes had reported ``kind`` about
    ``subject`` by each virtual time a new node reported it (each node
    counted once, at its first report)."""
    if kind not in _KINDS:
        raise ArgumentError(f"kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    first: dict[str, float] = {}
    for record in sim.events(kind=kind, subject=subject):
        first.setdefault(record.node, record.time)
    return [(t, k) for k, t in enumerate(sorted(first.values()), start=1)]


def plot_spread(sim: Simulation, subject: str, kind: str = "fail", ax: Axes | None = None) -> Axes:
    """Draws how many nodes have reported ``kind`` (join, fail, suspect, leave
    or alive) about node ``subject`` over virtual time, as a step curve from
    the event log.

    Draws on ``ax``, adding one labelled curve, or on a new figure's axes,
    with axis labels, a title and the number of other nodes as a dashed
    line. Returns the axes.

    Raises:
        ImportError: matplotlib is not installed (``pip install rumor[plot]``).
        ArgumentError: ``kind`` or ``subject`` is not known (a ``ValueError``).
    """
    steps = spread(sim, subject, kind)
    pyplot = _pyplot()  # first, so a missing matplotlib is reported the same way
    times = [0.0] + [t for t, _ in steps] + [sim.now]
    counts = [0] + [k for _, k in steps] + [steps[-1][1] if steps else 0]
    if ax is None:
        _, ax = pyplot.subplots()
        # Labels only on axes of our own: a caller's axes may hold several curves.
        ax.axhline(len(sim) - 1, linestyle="--", linewidth=0.8, color="gray")
        ax.set_xlabel("virtual time (s)")
        ax.set_ylabel(f"nodes that reported {kind}")
        ax.set_title(f"Spread of {kind} about {subject}")
    ax.step(times, counts, where="post", label=f"{kind} of {subject}")
    ax.set_ylim(bottom=0)
    ax.legend()
    return ax
