"""``rumor agent`` as a service: options from a ``--config`` TOML file
(flags win), Prometheus metrics over HTTP, a JSON log for log shippers, and
``rumor health`` for probes; each on real agent processes on loopback."""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import rumor
from agents import TIMEOUT, Agent, cli, cli_until, free_port
from rumor import agent
from support import LOCALHOST, wait_until


def config_agent(path: Path, *flags: str, stderr: bool = False) -> Agent:
    """An agent with ``--config path`` and no preset flag of its own."""
    argv = [sys.executable, "-m", "rumor", "agent", "--config", str(path), *flags]
    return Agent(argv=argv, stderr=stderr)


# -- --config ---------------------------------------------------------------


def test_every_flag_is_also_a_key_of_the_config_file() -> None:
    """The agent's flags (but --config and --help) are exactly the keys the
    file takes, so neither can grow without the other."""
    parser = argparse.ArgumentParser()
    agent.add_arguments(parser)
    flags = {s for a in parser._actions for s in a.option_strings if s.startswith("--")}
    assert flags - {"--help", "--config"} == {f"--{o.key}" for o in agent.OPTIONS}


def test_the_config_file_sets_every_option_and_flags_override_it(
    agents: list[Agent], tmp_path: Path
) -> None:
    """Every key of the file reaches the agent; a flag given on the command
    line wins over the same key (here --name), and a relative key-file is
    read next to the config file."""
    (tmp_path / "cluster.key").write_text(bytes(range(32)).hex() + "\n")
    seed = Agent(
        "--bind",
        f"{LOCALHOST}:0",
        "--name",
        "seed",
        "--key-file",
        str(tmp_path / "cluster.key"),
        "--label",
        "prod",
    )
    agents.append(seed)
    path = tmp_path / "agent.toml"
    path.write_text(
        f"""
bind = "{LOCALHOST}:0"
name = "from-file"
join = ["{seed.started["addr"]}"]
join-timeout = 20
preset = "local"
failure-detector = "swim"
node-timeout = 3.5
closed-port-evidence = "on"
key-file = "cluster.key"
label = "prod"
control = "{LOCALHOST}:0"
metrics = "{LOCALHOST}:0"
log-format = "json"
log-level = "info"
"""
    )
    a = config_agent(path, stderr=True)
    agents.append(a)
    assert a.started["name"] == "from-file"
    assert a.started["encrypted"] is True
    assert a.started["control"] and a.started["metrics"]
    assert seed.next("join")["member"]["name"] == "from-file", "joined with the file's key"
    wait_until(
        lambda: any('"level": "info"' in line for line in a.errors),
        message=lambda: f"no JSON log line at INFO: {a.errors}",
    )
    assert a.stop() == 0

    b = config_agent(path, "--name", "from-flag", "--log-format", "text")
    agents.append(b)
    assert b.started["name"] == "from-flag"
    assert b.started["encrypted"] is True
    assert b.stop() == 0


def test_a_join_flag_replaces_the_files_seeds(agents: list[Agent], tmp_path: Path) -> None:
    """``--join`` on the command line replaces the file's list, not adds to it."""
    seed = Agent("--bind", f"{LOCALHOST}:0", "--name", "seed")
    agents.append(seed)
    path = tmp_path / "agent.toml"
    # Nobody listens on the file's seed: a join through it would fail.
    path.write_text(
        f'bind = "{LOCALHOST}:0"\npreset = "local"\njoin = ["{LOCALHOST}:{free_port()}"]\n'
        "join-timeout = 60\n"
    )
    a = config_agent(path, "--name", "a", "--join", seed.started["addr"])
    agents.append(a)
    assert seed.next("join")["member"]["name"] == "a"
    assert a.next("join")["member"]["name"] == "seed"


CONFIG_MISTAKES = [
    ('nmae = "a"', "unknown key 'nmae'", "name"),
    ('bind = "127.0.0.1:0"\n[agent]\nname = "a"', "unknown key 'agent'", "bind"),
    ('bind = "nope"', "bind must be host:port", "65535"),
    ("bind = 7946", "bind must be a string", "7946"),
    ('preset = "fast"', "preset must be one of", "'lan', 'local', 'wan'"),
    ('log-format = "xml"', "log-format must be one of", "'text', 'json'"),
    ('log-level = "loud"', "log-level must be one of", "'warning'"),
    ('failure-detector = "gut"', "failure-detector must be one of", "'quorum'"),
    ("closed-port-evidence = true", "closed-port-evidence must be a string", "True"),
    ('join = "127.0.0.1:7946"', "join must be a list", "host:port"),
    ("join = [7946]", "join must be a list", "host:port"),
    ('join-timeout = "ten"', "join-timeout must be a number of seconds", "ten"),
    ("join-timeout = true", "join-timeout must be a number of seconds", "True"),
    ("join-timeout = 0", "join-timeout must be a number of seconds above 0", "1e9"),
    ("node-timeout = -1", "node-timeout", "between 0 and 1e9"),
    ('key-file = "missing.key"', "key-file", "No such file"),
    ('label = "prod"', "label needs --key-file", "label"),
    ('metrics = "127.0.0.1:http"', "metrics must be host:port", "65535"),
    ('name = ""', "name must be 1 to 128 bytes", "0 bytes"),
    ("bind = ", "not a TOML file", "line 1"),
]


@pytest.mark.parametrize(
    ("text", "says", "allowed"), CONFIG_MISTAKES, ids=[t for t, _, _ in CONFIG_MISTAKES]
)
def test_a_mistake_in_the_config_file_is_one_line_naming_the_key(
    text: str, says: str, allowed: str, tmp_path: Path
) -> None:
    """Exit status 2 before the agent starts (nothing on stdout), and one
    line on stderr with the file, the key and what it allows."""
    path = tmp_path / "agent.toml"
    body = text if text.startswith(("bind", "nmae")) else f'bind = "{LOCALHOST}:0"\n{text}'
    path.write_text(body + "\n")
    done = cli("agent", "--config", str(path))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert str(path) in done.stderr and says in done.stderr and allowed in done.stderr, done.stderr


def test_a_missing_config_file_or_bind_is_one_line() -> None:
    done = cli("agent", "--config", "/nonexistent/agent.toml")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--config /nonexistent/agent.toml" in done.stderr
    done = cli("agent", "--name", "a")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--bind is required" in done.stderr


def test_a_flag_is_checked_even_when_the_file_is_right(tmp_path: Path) -> None:
    """A bad flag is named as the flag, not as the file's key it overrides."""
    path = tmp_path / "agent.toml"
    path.write_text(f'bind = "{LOCALHOST}:0"\njoin-timeout = 5\n')
    done = cli("agent", "--config", str(path), "--join-timeout", "-1")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--join-timeout must be" in done.stderr
    assert str(path) not in done.stderr


# -- --metrics --------------------------------------------------------------


def scrape(address: str, path: str = "/metrics") -> dict[str, float]:
    """The samples of one scrape, keyed ``name{labels}``, with a real HTTP client."""
    with urllib.request.urlopen(f"http://{address}{path}", timeout=TIMEOUT) as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = reply.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def test_metrics_are_served_over_http_and_move_with_the_cluster(agents: list[Agent]) -> None:
    """A scrape of /metrics while members join and leave: the alive gauge
    rises after a join and falls back after a leave, packet counters grow."""
    a = Agent("--bind", f"{LOCALHOST}:0", "--name", "a", "--metrics", f"{LOCALHOST}:0")
    agents.append(a)
    where = a.started["metrics"]
    alive, left = 'rumor_members{node="a",state="alive"}', 'rumor_members{node="a",state="left"}'
    packets = 'rumor_packets_received_total{node="a"}'
    first = scrape(where)
    assert first[alive] == 1
    assert first[left] == 0

    b = Agent("--bind", f"{LOCALHOST}:0", "--name", "b", "--join", a.started["addr"])
    agents.append(b)
    wait_until(lambda: scrape(where)[alive] == 2, message=lambda: f"{scrape(where)}")
    joined = scrape(where)
    assert joined[packets] > first[packets]
    # Probes keep going both ways: the counters keep growing on their own.
    wait_until(lambda: scrape(where)[packets] > joined[packets])
    ping = 'rumor_messages_received_total{node="a",kind="ping"}'
    wait_until(lambda: scrape(where)[ping] > joined[ping])

    assert b.stop() == 0
    wait_until(lambda: scrape(where)[left] == 1, message=lambda: f"{scrape(where)}")
    assert scrape(where)[alive] == 1


def test_metrics_answer_404_for_any_other_path(agents: list[Agent]) -> None:
    a = Agent("--bind", f"{LOCALHOST}:0", "--metrics", f"{LOCALHOST}:0")
    agents.append(a)
    for path in ("/", "/metricsx", "/health"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            scrape(a.started["metrics"], path)
        assert caught.value.code == 404
        caught.value.close()
    assert scrape(a.started["metrics"], "/metrics?name=x"), "a query string is fine"


def test_a_metrics_port_in_use_stops_the_agent_before_it_starts() -> None:
    with socket.socket() as taken:
        taken.bind((LOCALHOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("agent", "--bind", f"{LOCALHOST}:0", "--metrics", f"{LOCALHOST}:{port}")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--metrics" in done.stderr, done.stderr


# -- --log-format -----------------------------------------------------------


def test_the_json_log_is_one_object_per_line(agents: list[Agent]) -> None:
    """With --log-format json every stderr line is a JSON object with time,
    level, logger and message: here the join of another member, at INFO."""
    a = Agent(
        "--bind",
        f"{LOCALHOST}:0",
        "--name",
        "a",
        "--log-format",
        "json",
        "--log-level",
        "info",
        stderr=True,
    )
    agents.append(a)
    b = Agent("--bind", f"{LOCALHOST}:0", "--name", "b", "--join", a.started["addr"])
    agents.append(b)
    wait_until(
        lambda: any("a: b joined" in line for line in a.errors),
        message=lambda: f"no join in the log: {a.errors}",
    )
    assert a.stop() == 0
    records = [json.loads(line) for line in a.errors]
    assert all(set(r) == {"time", "level", "logger", "message"} for r in records), records
    joined = next(r for r in records if "a: b joined" in r["message"])
    assert (joined["level"], joined["logger"]) == ("info", "rumor")
    assert any(r["logger"] == "rumor.agent" and "stopped" in r["message"] for r in records)


def test_the_default_log_is_text_for_people(agents: list[Agent]) -> None:
    a = Agent("--bind", f"{LOCALHOST}:0", "--name", "a", "--log-level", "info", stderr=True)
    agents.append(a)
    b = Agent("--bind", f"{LOCALHOST}:0", "--name", "b", "--join", a.started["addr"])
    agents.append(b)
    wait_until(
        lambda: any("a: b joined" in line for line in a.errors),
        message=lambda: f"no join in the log: {a.errors}",
    )
    line = next(line for line in a.errors if "a: b joined" in line)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO rumor: a: b joined", line), line


# -- rumor health -----------------------------------------------------------


def test_health_needs_a_live_member_that_sees_another(agents: list[Agent]) -> None:
    """Exit 1 alone, 0 once another member is alive, 1 again after it left;
    each time one line saying why."""
    a = Agent("--bind", f"{LOCALHOST}:0", "--name", "a", "--control", f"{LOCALHOST}:0")
    agents.append(a)
    control = a.started["control"]
    alone = cli("health", "--agent", control)
    assert alone.returncode == 1, alone
    assert alone.stderr == "unhealthy: a is alive but sees no other live member (0 known)\n"

    b = Agent("--bind", f"{LOCALHOST}:0", "--name", "b", "--join", a.started["addr"])
    agents.append(b)
    a.next("join")
    healthy = cli_until(0, "health", "--agent", control)
    assert healthy.stdout == "healthy: a is alive and sees 1 other live member(s)\n"

    assert b.stop() == 0
    a.next("leave")
    gone = cli("health", "--agent", control)
    assert gone.returncode == 1, gone
    assert gone.stderr == "unhealthy: a is alive but sees no other live member (1 known)\n"


def test_health_is_1_with_a_reason_when_the_agent_cannot_be_reached(tmp_path: Path) -> None:
    for where in (f"{LOCALHOST}:{free_port()}", str(tmp_path / "no.sock")):
        done = cli("health", "--agent", where)
        assert done.returncode == 1, done
        assert done.stdout == ""
        assert done.stderr.startswith(f"unhealthy: cannot reach the agent at {where}: ")
        assert done.stderr.count("\n") == 1


def test_health_of_a_node_that_left() -> None:
    """The control command itself: a node that left the cluster is not live."""
    node = rumor.Node(name="solo", bind=f"{LOCALHOST}:0", config=rumor.Config.local())
    try:
        other = rumor.Node(name="other", bind=f"{LOCALHOST}:0", config=rumor.Config.local())
        try:
            node.join([other.addr])
            wait_until(lambda: agent.health(node)["healthy"])
            node.leave()
            answer = agent.health(node)
            assert answer["healthy"] is False
            assert answer["reason"] == "solo is left, not a live member"
        finally:
            other.close()
    finally:
        node.close()
