"""`python -m rumor demo` end to end, in a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from rumor import cli


def test_demo_reports_the_crash_seen_by_all_seven_survivors() -> None:
    """The demo's 8-node run ends with the killed node declared failed by all 7 survivors."""
    done = subprocess.run(
        [sys.executable, "-m", "rumor", "demo"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "probe_interval=" in output, "the demo must print the config it used"
    assert re.search(r"all 8 nodes see 8 alive after \d+ ms", output), output
    killed = re.search(r"killed (n\d+) ", output)
    assert killed, output
    victim = killed.group(1)
    rows = re.findall(r"^\s+(n\d+)\s+(?:\d+ ms|-)\s+(\d+) ms$", output, re.MULTILINE)
    survivors = sorted(name for name, _ in rows)
    assert len(survivors) == 7, output
    assert victim not in survivors
    assert f"{victim} declared failed by all 7 survivors" in output, output
    assert re.search(r"failed:\s+median \d+ ms, max \d+ ms \(7 of 7 survivors\)", output), output


def test_cli_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`rumor` with no command shows the usage and returns 2."""
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_demo_refuses_a_cluster_too_small_to_lose_a_node(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`rumor demo --nodes 2` is refused with exit status 2 and a reason."""
    assert cli.main(["demo", "--nodes", "2"]) == 2
    assert "at least 3" in capsys.readouterr().out
