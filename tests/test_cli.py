"""The ``rumor`` command line: agents as processes, their control socket,
``members``, ``broadcast`` and ``join``, a prompt and graceful exit on SIGTERM
or SIGINT (even mid-join) or a closed stdout, ``simulate``, and one line
naming the flag for each usage mistake."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rumor
from agents import TIMEOUT, Agent, cli
from rumor import agent
from support import LOCALHOST, wait_until


def test_agents_join_answer_members_broadcast_and_leave_on_sigterm(
    agents: list[Agent], tmp_path: Path
) -> None:
    a = Agent("--bind", f"{LOCALHOST}:0", "--name", "a", "--control", f"{LOCALHOST}:0")
    agents.append(a)
    sock = str(tmp_path / "b.sock")
    b = Agent(
        "--bind", f"{LOCALHOST}:0", "--name", "b", "--join", a.started["addr"], "--control", sock
    )
    agents.append(b)
    assert a.next("join")["member"]["name"] == "b"

    def alive_at(control: str) -> set[str]:
        return {m["name"] for m in agent.request(control, "members") if m["state"] == "alive"}

    wait_until(lambda: alive_at(a.started["control"]) == {"a", "b"})
    listed = cli("members", "--agent", a.started["control"])
    assert listed.returncode == 0, listed.stderr
    members = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {(m["name"], m["state"]) for m in members} == {("a", "alive"), ("b", "alive")}

    sent = cli("broadcast", "--agent", sock, "hello from b")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["seq"] >= 1
    heard = a.next("rumor")
    assert (heard["origin"], heard["payload"]) == ("b", "hello from b")

    assert b.stop() == 0
    assert a.next("leave")["member"]["name"] == "b", "a graceful leave, not a failure"
    assert not os.path.exists(sock), "the agent removed its control socket"


def test_agents_with_another_key_cannot_join(agents: list[Agent], tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.key", tmp_path / "theirs.key"
    ours.write_text(os.urandom(32).hex() + "\n")
    theirs.write_text("# another cluster\n" + os.urandom(32).hex() + "\n")
    a = Agent("--bind", f"{LOCALHOST}:0", "--name", "a", "--key-file", str(ours))
    agents.append(a)
    assert a.started["encrypted"] is True
    c = Agent(
        "--bind",
        f"{LOCALHOST}:0",
        "--name",
        "c",
        "--key-file",
        str(theirs),
        "--join",
        a.started["addr"],
    )
    agents.append(c)
    assert "error" in c.next("join_failed")
    assert c.proc.wait(TIMEOUT) == 1


def test_a_bad_key_file_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not hex\n")
    with pytest.raises(ValueError, match="64 hex digits"):
        agent.read_keys(str(bad))


def test_simulate_prints_a_convergence_table() -> None:
    done = cli("simulate", "--nodes", "30", "--seconds", "10")
    assert done.returncode == 0, done.stderr
    assert "converged at t =" in done.stdout
    assert "870 / 870" in done.stdout  # members known, summed over 30 nodes


def test_control_refuses_a_path_that_is_not_a_socket(tmp_path: Path) -> None:
    """An existing regular file given as --control is left alone, and the agent
    stops with an error instead of deleting it."""
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rumor",
            "agent",
            "--bind",
            f"{LOCALHOST}:0",
            "--control",
            str(precious),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 2
    assert "not a socket" in done.stderr
    assert precious.read_text() == "keep me"


def test_broadcast_refuses_a_multi_line_payload() -> None:
    done = cli("broadcast", "--agent", "/nonexistent.sock", "two\nlines")
    assert done.returncode == 2 and "one line" in done.stderr


def test_a_started_agent_joins_on_command_with_the_quorum_detector(agents: list[Agent]) -> None:
    """``rumor join`` makes a running agent join later (as benchmarks do, so
    that every node joins at one instant), and ``--failure-detector quorum``
    reaches the node's config: a killed member is failed within a few
    ``--node-timeout`` seconds."""
    quorum = ("--failure-detector", "quorum", "--node-timeout", "0.5")
    started = [
        Agent("--bind", f"{LOCALHOST}:0", "--name", n, "--control", f"{LOCALHOST}:0", *quorum)
        for n in ("a", "b", "c")
    ]
    agents.extend(started)
    a, b, c = started
    for other in (b, c):
        done = cli("join", "--agent", other.started["control"], a.started["addr"])
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"joined": 1}
    assert {a.next("join")["member"]["name"] for _ in range(2)} == {"b", "c"}
    assert b.next("join")["member"]["name"] in {"a", "c"}

    c.proc.kill()  # only the agent this test started, by handle
    assert a.next("fail")["member"]["name"] == "c"
    assert b.next("fail")["member"]["name"] == "c"


@pytest.mark.skipif(
    sys.platform != "linux", reason="closed ports are read from Linux's error queue"
)
def test_a_killed_agent_is_failed_on_evidence_and_a_stopped_one_is_not(
    agents: list[Agent],
) -> None:
    """SIGKILL closes the agent's port: the host answers probes with
    port-unreachable and the prober declares it failed at once (evidence).
    SIGSTOP keeps the port open and silent: no evidence, no failure."""
    started = [
        Agent("--bind", f"{LOCALHOST}:0", "--name", n, "--control", f"{LOCALHOST}:0")
        for n in ("a", "b", "c", "d")
    ]
    agents.extend(started)
    a, b, c, d = started
    for other in (b, c, d):
        done = cli("join", "--agent", other.started["control"], a.started["addr"])
        assert done.returncode == 0, done.stderr
    assert {a.next("join")["member"]["name"] for _ in range(3)} == {"b", "c", "d"}

    def stats(x: Agent) -> dict[str, Any]:
        return agent.request(x.started["control"], "stats")[0]

    def alive(x: Agent) -> set[str]:
        members = agent.request(x.started["control"], "members")
        return {m["name"] for m in members if m["state"] == "alive"}

    wait_until(lambda: alive(a) == alive(b) == {"a", "b", "c", "d"})
    c.proc.kill()  # only the agent this test started, by handle
    fails = [a.next("fail"), b.next("fail")]
    assert [line["member"]["name"] for line in fails] == ["c", "c"]
    # The fail line names the reason; null only if the death reached the
    # agent without one (a full sync, not the gossiped verdict).
    assert {line["reason"] for line in fails} <= {"closed_port", None}, fails

    def by() -> dict[str, int]:
        # Every survivor: whichever probed c first decided (d as often as
        # a or b); the others learned it by gossip and count nothing.
        keys = ("failures_by_evidence", "failures_by_timeout")
        return {k: sum(stats(x)[k] for x in (a, b, d)) for k in keys}

    def dead(x: Agent) -> set[str]:
        members = agent.request(x.started["control"], "members")
        return {m["name"] for m in members if m["state"] == "dead"}

    # d may still be deciding c on its own probe's evidence when a and b
    # report: count only once every survivor holds c dead.
    wait_until(lambda: "c" in dead(d))
    decided = by()
    assert decided["failures_by_evidence"] >= 1 and decided["failures_by_timeout"] == 0, decided

    survivors = (a, b)
    unanswered = [stats(x)["probes_failed"] for x in survivors]
    d.proc.send_signal(signal.SIGSTOP)  # only the agent this test started, by handle
    try:
        # Stopped until each survivor has had a probe go unanswered (only d,
        # silent, can leave one so): its open port drew no evidence. About
        # two probe intervals, below the suspicion timeout.
        wait_until(
            lambda: all(stats(x)["probes_failed"] > n for x, n in zip(survivors, unanswered)),
            message="a survivor never probed the stopped agent",
        )
    finally:
        d.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: alive(a) == alive(b) == {"a", "b", "d"})
    assert by() == decided, "no failure decided while d was stopped"
    assert not [line for x in (a, b) for line in x.lines if line["event"] == "fail"]


def test_closed_port_evidence_off_leaves_a_kill_to_the_suspicion_timeout(
    agents: list[Agent],
) -> None:
    """``--closed-port-evidence off``: a SIGKILLed agent is still failed, by
    Lifeguard's suspicion timeout, never on the closed port's evidence."""
    started = [
        Agent(
            "--bind",
            f"{LOCALHOST}:0",
            "--name",
            n,
            "--control",
            f"{LOCALHOST}:0",
            "--closed-port-evidence",
            "off",
        )
        for n in ("a", "b", "c")
    ]
    agents.extend(started)
    a, b, c = started
    for other in (b, c):
        done = cli("join", "--agent", other.started["control"], a.started["addr"])
        assert done.returncode == 0, done.stderr
    assert {a.next("join")["member"]["name"] for _ in range(2)} == {"b", "c"}

    def alive(x: Agent) -> set[str]:
        members = agent.request(x.started["control"], "members")
        return {m["name"] for m in members if m["state"] == "alive"}

    wait_until(lambda: alive(a) == alive(b) == {"a", "b", "c"})
    c.proc.kill()  # only the agent this test started, by handle
    assert a.next("fail")["member"]["name"] == "c"
    assert b.next("fail")["member"]["name"] == "c"
    stats = [agent.request(x.started["control"], "stats")[0] for x in (a, b)]
    assert sum(x["failures_by_evidence"] for x in stats) == 0, stats
    assert sum(x["failures_by_timeout"] for x in stats) >= 1, stats


def test_join_and_detector_options_are_checked() -> None:
    done = cli("join", "--agent", "/nonexistent.sock", "bad seed")
    assert done.returncode == 2 and "no spaces" in done.stderr
    done = cli("agent", "--bind", f"{LOCALHOST}:0", "--node-timeout", "-1")
    assert done.returncode == 2 and "node_timeout" in done.stderr
    done = cli("agent", "--bind", f"{LOCALHOST}:0", "--closed-port-evidence", "maybe")
    assert done.returncode == 2 and "--closed-port-evidence" in done.stderr


@pytest.fixture
def silent_seed() -> Iterator[socket.socket]:
    """A UDP socket on loopback that receives a join's datagrams and never
    answers: a seed that is unreachable, on a port nobody else can take."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOCALHOST, 0))
    try:
        yield s
    finally:
        s.close()


def address(s: socket.socket) -> str:
    host, port = s.getsockname()[:2]
    return f"{host}:{port}"


def test_join_through_an_unreachable_seed_prints_the_agents_own_error(
    agents: list[Agent], silent_seed: socket.socket
) -> None:
    """``rumor join`` waits longer than the agent's join timeout (10 s by
    default), so it prints the agent's answer, not a timeout of its own."""
    a = Agent("--bind", f"{LOCALHOST}:0", "--name", "a", "--control", f"{LOCALHOST}:0")
    agents.append(a)
    done = cli("join", "--agent", a.started["control"], address(silent_seed))
    assert "cannot talk to the agent" not in done.stderr
    assert done.returncode == 1, done.stderr
    assert "no seed answered" in json.loads(done.stdout)["error"]
    # A shorter timeout is passed on to the agent.
    done = cli("join", "--agent", a.started["control"], "--timeout", "0.5", address(silent_seed))
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error == f"no seed answered: {address(silent_seed)} (no answer within 0.5 s)"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_agent_while_its_join_is_in_progress(
    agents: list[Agent], silent_seed: socket.socket, sig: signal.Signals
) -> None:
    """The agent leaves and exits on SIGTERM or SIGINT even while ``--join``
    waits for a seed that never answers, long before its join timeout."""
    a = Agent("--bind", f"{LOCALHOST}:0", "--join", address(silent_seed), "--join-timeout", "120")
    agents.append(a)
    # The join is in progress once its first datagram reaches the seed.
    silent_seed.settimeout(TIMEOUT)
    silent_seed.recvfrom(65536)
    a.proc.send_signal(sig)
    # Far less than the 120 s the join would wait; generous for a slow machine.
    assert a.proc.wait(TIMEOUT) == 0
    a.next("stopped")
    assert not [line for line in a.lines if line["event"] == "join_failed"]


def test_an_agent_whose_stdout_is_closed_stops_without_a_traceback(
    silent_seed: socket.socket,
) -> None:
    """As ``rumor agent ... | head -1``: once its reader is gone, the agent's
    next event line stops it quietly, as SIGPIPE would a Unix tool."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rumor", "agent", "--preset", "local", "--bind", f"{LOCALHOST}:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        started = json.loads(proc.stdout.readline())
        assert started["event"] == "started"
        proc.stdout.close()  # what head does after its first line
        newcomer = rumor.Node(name="newcomer", bind=f"{LOCALHOST}:0", config=rumor.Config.local())
        try:
            newcomer.join([started["addr"]])  # the agent has a "join" line to print
            status = proc.wait(TIMEOUT)
        finally:
            newcomer.close()
        errors = proc.stderr.read()
        assert "Traceback" not in errors and "BrokenPipe" not in errors, errors
        assert errors == ""
        assert status == 0
    finally:
        if proc.poll() is None:
            proc.kill()  # only the agent this test started, by handle
            proc.wait(TIMEOUT)
        if proc.stderr is not None:
            proc.stderr.close()


def test_the_started_line_comes_before_any_event_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An event that arrives before the agent printed ``started`` (a member
    joining through it the moment its socket is bound) waits for that line."""
    emit = agent._Printer(on_closed=lambda: None)
    emit("join", member={"name": "early"})
    emit("started", name="a")
    emit("leave", member={"name": "early"})
    events = [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()]
    assert events == ["started", "join", "leave"]


USAGE_MISTAKES = [
    (["agent", "--bind", "notanaddr"], "--bind"),
    (["agent", "--bind", "0.0.0.0:0", "--advertise", "0.0.0.0"], "--advertise"),
    (["agent", "--bind", "0.0.0.0:0", "--advertise", "[::]:7"], "--advertise"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--advertise", "nope.invalid"], "--advertise"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--name="], "--name"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--join", "nope.invalid:1"], "--join"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--join", f"{LOCALHOST}:0"], "--join"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--key-file", "{tmp}/missing.key"], "--key-file"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--key-file", "{tmp}/bad.key"], "--key-file"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--key-file", "{tmp}/binary.key"], "--key-file"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--join-timeout", "0"], "--join-timeout"),
    (["simulate", "--nodes", "0"], "--nodes"),
    (["simulate", "--loss", "1.5"], "--loss"),
    (["simulate", "--loss", "nan"], "--loss"),
    (["simulate", "--seed", "-1"], "--seed"),
    (["simulate", "--seconds", "inf"], "--seconds"),
    (["simulate", "--seconds", "0"], "--seconds"),
    (["simulate", "--seconds", "-3"], "--seconds"),
    (["simulate", "--seconds", "nan"], "--seconds"),
    (["simulate", "--plot", "{tmp}/missing/plot.png"], "--plot"),
    (["simulate", "--scenario", "flood"], "--scenario"),
    (["simulate", "--scenario", "crash", "--nodes", "1"], "--nodes"),
    (["join", "--agent", "/nonexistent.sock", "--timeout", "inf", "127.0.0.1:1"], "--timeout"),
    (["health", "--agent", "/nonexistent.sock", "--timeout", "0"], "--timeout"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--metrics", "nope"], "--metrics"),
    (["agent", "--bind", f"{LOCALHOST}:0", "--metrics", "nope.invalid:9100"], "--metrics"),
]


@pytest.mark.parametrize(
    ("args", "flag"), USAGE_MISTAKES, ids=[" ".join(a) for a, _ in USAGE_MISTAKES]
)
def test_a_usage_mistake_is_one_line_naming_the_flag(
    args: list[str], flag: str, tmp_path: Path
) -> None:
    """Exit status 2 and one line on stderr that names the flag, before any
    work starts (nothing on stdout), never a traceback."""
    (tmp_path / "bad.key").write_text("not hex\n")
    (tmp_path / "binary.key").write_bytes(b"\xff\xfe\x00key")
    done = cli(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and flag in done.stderr, done.stderr


def test_a_port_in_use_is_one_line_naming_bind() -> None:
    """``--bind`` on a port another socket holds: exit status 2, one line."""
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind((LOCALHOST, 0))
    with taken:
        done = cli("agent", "--bind", address(taken))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--bind" in done.stderr, done.stderr
    assert "in use" in done.stderr
