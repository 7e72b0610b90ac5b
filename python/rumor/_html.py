"""HTML views for Jupyter: ``Node._repr_html_`` and ``Simulation._repr_html_``."""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rumor.member import Member

if TYPE_CHECKING:
    from rumor.sim import Simulation

_STATE_COLOURS = {"alive": "#2e7d32", "suspect": "#ef6c00", "dead": "#c62828", "left": "#616161"}


def members_table(members: Sequence[Member]) -> str:
    """An HTML table of members: name, address, state (coloured), incarnation."""
    rows = "".join(
        f"<tr><td>{html.escape(m.name)}</td><td>{html.escape(m.addr)}</td>"
        f'<td style="color:{_STATE_COLOURS.get(m.state.value, "inherit")}">'
        f"{m.state.value}</td><td>{m.incarnation}</td></tr>"
        for m in members
    )
    head = "<tr><th>name</th><th>address</th><th>state</th><th>incarnation</th></tr>"
    return f"<table>{head}{rows}</table>"


def counts_line(members: Sequence[Member]) -> str:
    counts = Counter(m.state.value for m in members)
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def simulation_html(sim: Simulation) -> str:
    """A summary of the simulation, and a plot of its membership events over
    virtual time when matplotlib is installed."""
    kinds = Counter(r.kind for r in sim.events())
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no events yet"
    state = "converged" if sim.converged() else "not converged"
    out = [
        f"<b>rumor.Simulation</b>: {len(sim)} nodes at t = {sim.now:.3f} s (virtual), {state}",
        f"<br>event log: {html.escape(summary)}",
    ]
    image = _events_plot(sim)
    if image is not None:
        out.append(f'<br><img src="data:image/png;base64,{image}"/>')
    return "".join(out)


def _events_plot(sim: Simulation) -> str | None:
    """A PNG (base64) of how many join, suspect and fail records the nodes
    wrote by each virtual time; None without matplotlib or events."""
    from rumor.plot import _pyplot

    try:
        pyplot = _pyplot()
    except ImportError:
        return None
    series: dict[str, list[float]] = {"join": [], "suspect": [], "fail": []}
    for record in sim.events():
        if record.kind in series:
            series[record.kind].append(record.time)
    if not any(series.values()):
        return None
    fig, ax = pyplot.subplots(figsize=(6, 3))
    for kind, times in series.items():
        if times:
            ax.step([0.0, *times], range(len(times) + 1), where="post", label=kind)
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("records")
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    pyplot.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")
