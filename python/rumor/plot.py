"""Plots of a simulation, drawn with matplotlib (``pip install rumor[plot]``).

matplotlib is imported only when a plot is drawn, so ``import rumor`` never
needs it.
"""

from __future__ import annotations

import importlib
import math
from typing import TYPE_CHECKING, Any

from rumor.errors import ArgumentError

if TYPE_CHECKING:
    from matplotlib.axes import Axes  # type: ignore[import-not-found, unused-ignore]

    from rumor.scenarios import Spread
    from rumor.sim import Simulation

__all__ = ["plot_scenario", "plot_spread"]

_KINDS = ("join", "fail", "suspect", "leave", "alive", "rumor")


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
    """Draws how many nodes have reported ``kind`` (join, fail, suspect,
    leave, alive, or rumor: delivered a broadcast by ``subject``) about node
    ``subject`` over virtual time, as a step curve from the event log.

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


def _duration(seconds: float, _position: object = None) -> str:
    """A tick label: ``0``, ``100 µs``, ``10 ms``, ``1 s``, ``10 s``."""
    if seconds <= 0:
        return "0"
    if seconds < 1e-3:
        return f"{seconds * 1e6:g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:g} ms"
    return f"{seconds:g} s"


def _instant(t: float) -> str:
    """A virtual time for a legend: ``0.201 ms``, ``3.074 s``."""
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3f} s"


def plot_scenario(spread: Spread, ax: Axes | None = None) -> Axes:
    """Draws the curves of a :func:`rumor.scenarios.run`: each as a step
    curve from its first change (x = 0) to the end of the run, on a time
    axis linear up to the shortest delay between two changes and
    logarithmic above it. Gossip spreads news in milliseconds, yet a node
    behind a lost datagram catches up only rounds later: only such an axis
    shows both. When each curve began is in its legend.

    Draws on ``ax``, or on a new figure's axes; returns the axes.

    Raises:
        ImportError: matplotlib is not installed (``pip install rumor[plot]``).
    """
    pyplot = _pyplot()
    if ax is None:
        _, ax = pyplot.subplots(figsize=(8, 4.5))
    end = spread.sim.now
    # Linear up to the power of ten below the time the fastest curve took
    # to reach 5%, so its first steps are not squeezed against x = 0.
    onset = end
    for curve in spread.curves:
        if curve.first is None:
            continue
        origin = curve.first
        xs = [t - origin for t, _ in curve.steps] + [end - origin]
        ys = [k for _, k in curve.steps] + [curve.final]
        onset = min([onset, *(x for x, y in zip(xs, ys) if x > 0 and y >= spread.total / 20)])
        ax.step(xs, ys, where="post", label=f"{curve.label}, from t = {_instant(origin)}")
    linthresh = 10.0 ** math.floor(math.log10(max(onset, 1e-6)))
    ax.set_xscale("symlog", linthresh=linthresh, linscale=0.5)
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter(_duration)
    ax.yaxis.set_major_formatter(lambda y, _position: f"{y:,.0f}")
    ax.axhline(spread.total, linestyle="--", linewidth=0.8, color="gray")
    ax.set_ylim(0, spread.total * 1.05)
    ax.set_xlabel("virtual time since the curve's first change (log scale)")
    ax.set_ylabel(spread.ylabel)
    ax.set_title(spread.title)
    ax.grid(True, which="major", alpha=0.3)
    if any(curve.steps for curve in spread.curves):
        ax.legend(loc="best")
    return ax
