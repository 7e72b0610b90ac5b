"""The scenarios ``rumor simulate --scenario`` runs and plots: their curves
are built from the event log, exact to the event, and have enough points to
show how the news spread (a 300-node cluster under 5% loss, as in the README's
command)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import rumor
from agents import cli
from rumor import scenarios
from rumor.scenarios import SCENARIOS, Spread, steps

NODES = 300
LOSS = 0.05


@cache
def spread_of(scenario: str) -> Spread:
    """Each scenario runs once for the whole file (the join takes seconds)."""
    return scenarios.run(scenario, NODES, seconds=30, loss=LOSS, seed=1)


def test_steps_merge_changes_at_the_same_time() -> None:
    """steps() counts up by one per time, one step per distinct time, sorted."""
    assert steps([0.3, 0.1, 0.3, 0.2]) == [(0.1, 1), (0.2, 2), (0.3, 4)]
    assert steps([]) == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_curve_has_the_points_to_show_its_shape(scenario: str) -> None:
    """Every curve reaches the whole cluster with at least 20 distinct
    changes strictly between its first and its last, at increasing times
    from the scenario's event on, its count going up."""
    spread = spread_of(scenario)
    assert spread.done is not None, [(c.label, c.final) for c in spread.curves]
    assert len(spread.curves) == (2 if scenario == "crash" else 1)
    for curve in spread.curves:
        times = [t for t, _ in curve.steps]
        counts = [k for _, k in curve.steps]
        assert curve.final == spread.total
        assert times == sorted(set(times)), "distinct, increasing"
        assert counts == sorted(set(counts)), "each step counts more"
        assert times[0] >= spread.event
        inside = [t for t in times if times[0] < t < times[-1]]
        assert len(inside) >= 20, (curve.label, len(inside))


def test_the_curves_are_the_event_log() -> None:
    """The crash curves count each survivor once, at its first suspect (or
    fail) record and at its first fail record about the victim."""
    spread = spread_of("crash")
    sim = spread.sim
    victim = f"n{NODES - 1}"
    first_fail: dict[str, float] = {}
    for record in sim.events(kind="fail", subject=victim):
        first_fail.setdefault(record.node, record.time)
    assert spread.curves[1].steps == steps(first_fail.values())
    suspected, dead = spread.curves
    assert all(s <= d for (s, _), (d, _) in zip(suspected.steps, dead.steps))


def test_an_unknown_scenario_is_an_argument_error() -> None:
    """run() names the scenarios it knows."""
    with pytest.raises(rumor.ArgumentError, match="join, crash, broadcast"):
        scenarios.run("flood", 3)


def test_plot_scenario_draws_the_curves_with_labelled_axes() -> None:
    """plot_scenario draws each curve from its first change to the end of the
    run, on a time axis that is logarithmic past the first milliseconds."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    pyplot = pytest.importorskip("matplotlib.pyplot")
    spread = spread_of("crash")
    ax = rumor.plot.plot_scenario(spread)
    try:
        lines = [line for line in ax.get_lines() if not str(line.get_label()).startswith("_")]
        assert [str(line.get_label()).split(",")[0] for line in lines] == [
            c.label for c in spread.curves
        ]
        for line, curve in zip(lines, spread.curves):
            xdata: Any = line.get_xdata()
            ydata: Any = line.get_ydata()
            assert xdata[0] == 0 and ydata[-1] == spread.total
            assert len(set(xdata)) == len(curve.steps) + 1
        assert ax.get_xscale() == "symlog"
        assert "time" in ax.get_xlabel() and "survivors" in ax.get_ylabel()
        assert "Crash" in ax.get_title() and "5% loss" in ax.get_title()
    finally:
        pyplot.close("all")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_simulate_plots_the_scenario(scenario: str, tmp_path: Path) -> None:
    """``rumor simulate --scenario S --plot FILE`` prints when each tenth of
    the cluster had the news and saves a PNG."""
    pytest.importorskip("matplotlib")
    png = tmp_path / f"{scenario}.png"
    done = cli(
        "simulate", "--scenario", scenario, "--nodes", "40", "--loss", "0.05", "--plot", str(png)
    )
    assert done.returncode == 0, done.stderr
    assert png.read_bytes().startswith(b"\x89PNG")
    total = {"join": 40 * 39, "crash": 39, "broadcast": 40}[scenario]
    assert f"{total} / {total}" in done.stdout
    assert " at t = " in done.stdout.splitlines()[-2]


def test_news_that_reaches_nobody_is_an_empty_plot() -> None:
    """Under 100% loss a join reaches nobody: empty curves, ``done`` None,
    and plot_scenario draws the axes without a legend warning."""
    spread = scenarios.run("join", 5, seconds=2, loss=1.0)
    assert spread.done is None and all(c.steps == [] for c in spread.curves)
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    pyplot = pytest.importorskip("matplotlib.pyplot")
    try:
        ax = rumor.plot.plot_scenario(spread)  # warnings are errors in this suite
        assert ax.get_legend() is None
    finally:
        pyplot.close("all")
