"""``rumor agent``: one node as a process, and the control socket that
``rumor members`` and ``rumor broadcast`` talk to.

The agent prints one JSON object per line on stdout for each event, and
leaves the cluster gracefully on SIGTERM or SIGINT before it exits. With
``--control`` it listens on a loopback ``host:port`` or a Unix socket path
for one-line commands (``members``, ``broadcast <text>``,
``join [--timeout=SECONDS] <seed>...``, ``stats``), each answered with JSON
lines and the connection closed.

A mistake in the options is one line on stderr naming the flag, and exit
status 2, before the node starts. The ``started`` line comes before any
event line. If stdout is closed (``rumor agent ... | head -1``), the agent
stops as on SIGTERM, without a traceback.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import math
import os
import signal
import socket
import socketserver
import stat
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from rumor._native import Config
from rumor.errors import RumorError
from rumor.member import Accusation, Member
from rumor.news import Rumor, Value
from rumor.node import Node

__all__ = [
    "JOIN_TIMEOUT",
    "REPLY_MARGIN",
    "add_arguments",
    "join_command",
    "read_keys",
    "request",
    "run",
    "seconds_option",
]

_PRESETS = {"lan": Config.lan, "local": Config.local, "wan": Config.wan}

JOIN_TIMEOUT = 10.0
"""Seconds a join waits for a seed to answer, at start (``--join``) and on
command, unless told otherwise."""

REPLY_MARGIN = 5.0
"""Seconds a client waits for an answer beyond the agent's own deadline, so
that the agent's error (say, "no seed answered") reaches it instead of a
timeout of its own."""

_T = TypeVar("_T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", required=True, help="host:port to gossip on")
    parser.add_argument("--name", help="unique member name (default: the bind address)")
    parser.add_argument(
        "--join", action="append", default=[], metavar="SEED", help="seed address (repeatable)"
    )
    parser.add_argument(
        "--join-timeout",
        type=float,
        default=JOIN_TIMEOUT,
        metavar="SECONDS",
        help=f"how long --join waits for a seed to answer (default {JOIN_TIMEOUT:g})",
    )
    parser.add_argument("--preset", choices=sorted(_PRESETS), default="lan")
    parser.add_argument(
        "--failure-detector",
        choices=["swim", "quorum"],
        help="swim (the default: SWIM with Lifeguard) or quorum (Redis Cluster's PFAIL/FAIL)",
    )
    parser.add_argument(
        "--node-timeout",
        type=float,
        metavar="SECONDS",
        help="the quorum detector's timeout (default 15)",
    )
    parser.add_argument(
        "--key-file",
        help="file with encryption keys, one per line as 64 hex digits, the primary first",
    )
    parser.add_argument("--label", default="", help="cluster label (needs --key-file)")
    parser.add_argument(
        "--control", help="loopback host:port or Unix socket path for rumor members/broadcast"
    )


def read_keys(path: str) -> list[bytes]:
    """Keys from ``path``: 64 hex digits per line, the primary first; blank
    lines and ``#`` comments are ignored."""
    keys: list[bytes] = []
    try:
        with open(path, encoding="ascii") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a key file: 64 hex digits per line") from None
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{path}:{number}: a key must be 64 hex digits") from None
        if len(key) != 32:
            raise ValueError(f"{path}:{number}: a key must be 64 hex digits (32 bytes)")
        keys.append(key)
    if not keys:
        raise ValueError(f"{path}: no key in the file")
    return keys


def _member(m: Member) -> dict[str, Any]:
    return {
        "name": m.name,
        "addr": m.addr,
        "state": m.state.value,
        "incarnation": m.incarnation,
        "meta": m.meta.hex(),
    }


def _value(v: Value | None) -> dict[str, Any]:
    """A state value as JSON fields: ``value`` and its ``encoding`` (``text``,
    or ``hex`` for bytes; ``null`` once deleted)."""
    if v is None:
        return {"value": None, "encoding": None}
    if isinstance(v, bytes):
        return {"value": v.hex(), "encoding": "hex"}
    return {"value": v, "encoding": "text"}


class _Printer:
    """JSON lines on stdout, one writer at a time, ``started`` first.

    Events that come before the ``started`` line (another member may join
    through this one the moment its socket is bound) wait for it. Once
    stdout is closed the printer says nothing more and calls ``on_closed``.
    """

    def __init__(self, on_closed: Callable[[], None]) -> None:
        self.lock = threading.Lock()
        self.on_closed = on_closed
        self.started = False
        self.closed = False
        self.held: list[str] = []

    def __call__(self, event: str, **fields: Any) -> None:
        line = json.dumps({"time": round(time.time(), 3), "event": event, **fields})
        with self.lock:
            if self.closed:
                return
            if not self.started and event != "started":
                self.held.append(line)
                return
            lines = [line]
            if not self.started:
                self.started = True
                lines += self.held
                self.held.clear()
            out = sys.stdout  # None when started with stdout closed (>&-)
            try:
                if out is None:
                    raise OSError(errno.EBADF, "stdout is closed")
                out.write("".join(f"{text}\n" for text in lines))
                out.flush()
            except OSError as e:
                if e.errno not in (errno.EPIPE, errno.EBADF):
                    raise
                self.closed = True
                if out is not None:
                    # What is still buffered would fail again at exit, with
                    # a traceback: point stdout at /dev/null instead.
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, out.fileno())
                    os.close(devnull)
                self.on_closed()


class _Stop(BaseException):
    """Raised by a signal handler in the main thread to cut a join or a
    leave short; never escapes :func:`run`."""


class _Signals:
    """SIGTERM and SIGINT set ``stop``. A wait marked with :meth:`cut_short`
    (a join, a leave) is also ended at once: the native wait checks for
    signals between short slices, and the handler raises inside it."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.armed = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()
        if self.armed:
            self.armed = False
            raise _Stop

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self)

    def cut_short(self, call: Callable[[], _T]) -> _T | None:
        """``call()``, or ``None`` if a signal came while it ran."""
        try:
            self.armed = True
            try:
                return call()
            finally:
                self.armed = False
        except _Stop:
            return None

    def stop_from_any_thread(self) -> None:
        """Stops as SIGTERM does (and so also ends a join in progress,
        which only the main thread can do). Once stopping, does nothing: a
        second signal would cut the graceful leave short."""
        if not self.stop.is_set():
            os.kill(os.getpid(), signal.SIGTERM)


def _control_server(node: Node, where: str) -> socketserver.BaseServer:
    """Serves ``members``, ``broadcast <text>``, ``join <seed>...`` and
    ``stats`` on ``where``."""

    class Handler(socketserver.StreamRequestHandler):
        timeout = 10.0  # an idle client does not hold a thread forever

        def handle(self) -> None:
            try:
                raw = self.rfile.readline(1 << 20)
            except OSError:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            cmd, _, rest = line.partition(" ")
            try:
                if cmd == "members":
                    out = [_member(m) for m in node.members()]
                elif cmd == "broadcast":
                    out = [{"seq": node.broadcast(rest.encode())}]
                elif cmd == "join":
                    timeout, seeds = _join_command(rest)
                    out = [{"joined": node.join(seeds, timeout=timeout)}]
                elif cmd == "stats":
                    out = [node.stats()]
                else:
                    out = [{"error": f"unknown command {cmd!r}"}]
            except (RumorError, ValueError) as e:
                out = [{"error": str(e)}]
            for obj in out:
                self.wfile.write((json.dumps(obj) + "\n").encode())

    server: socketserver.BaseServer
    if ":" in where and not where.startswith(("/", ".")):
        host, port = where.rsplit(":", 1)
        if not _is_loopback(host):
            raise ValueError(f"--control must be a loopback address or a socket path, got {where}")
        host = host.strip("[]")
        tcp = _TCP6 if ":" in host else socketserver.ThreadingTCPServer
        server = tcp((host, int(port)), Handler)
    else:
        if os.path.exists(where):
            if not stat.S_ISSOCK(os.lstat(where).st_mode):
                raise ValueError(f"--control {where} exists and is not a socket")
            os.unlink(where)  # a stale socket of an earlier agent
        server = socketserver.ThreadingUnixStreamServer(where, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="rumor-control", daemon=True).start()
    return server


def _join_command(rest: str) -> tuple[float, list[str]]:
    """The timeout and seeds of ``join [--timeout=SECONDS] <seed>...``."""
    words = rest.split()
    timeout = JOIN_TIMEOUT
    if words and words[0].startswith("--timeout="):
        timeout = seconds_option("--timeout", words.pop(0).partition("=")[2])
    if not words:
        raise ValueError("join needs at least one seed address")
    return timeout, words


def join_command(seeds: list[str], timeout: float) -> str:
    """The control command that makes an agent join through ``seeds``."""
    return f"join --timeout={timeout!r} " + " ".join(seeds)


def seconds_option(flag: str, value: float | str) -> float:
    """``value`` as a positive, finite number of seconds (at most 1e9), or
    ``ValueError`` naming ``flag``."""
    try:
        t = float(value)
    except ValueError:
        t = math.nan
    if not (math.isfinite(t) and 0 < t <= 1e9):
        raise ValueError(f"{flag} must be a number of seconds above 0 (at most 1e9), got {value}")
    return t


class _TCP6(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return all(str(i[4][0]).startswith("127.") or str(i[4][0]) == "::1" for i in infos)


def request(agent: str, command: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Sends ``command`` to the agent's control socket; its JSON answers."""
    if ":" in agent and not agent.startswith(("/", ".")):
        host, port = agent.rsplit(":", 1)
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(agent)
    with sock, sock.makefile("rwb") as f:
        f.write((command + "\n").encode())
        f.flush()
        return [json.loads(line) for line in f]


class _UsageError(Exception):
    """A mistake in the agent's options: one line naming the flag."""


def _check_address(flag: str, text: str, *, listen: bool) -> None:
    """``text`` is ``host:port`` with a host that resolves; a port from 1 (0
    too, for an address to listen on: any free port) to 65535; and, to
    listen on, an address other members can reach, not ``0.0.0.0``."""
    lowest = 0 if listen else 1
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not (sep and host and port.isdigit() and lowest <= int(port) <= 65535):
        raise _UsageError(
            f"{flag} must be host:port such as 127.0.0.1:7946, "
            f"with a port from {lowest} to 65535; got {text!r}"
        )
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        raise _UsageError(f"{flag} {text}: cannot resolve the host {host!r}") from None
    if listen and ipaddress.ip_address(str(infos[0][4][0]).partition("%")[0]).is_unspecified:
        raise _UsageError(
            f"{flag} {text}: give the address other members reach this one at, "
            "such as 127.0.0.1:7946 or 192.0.2.7:7946, not an unspecified address"
        )


def _check_options(args: argparse.Namespace) -> dict[str, Any]:
    """Every option checked before anything starts; the config overrides.
    Raises :class:`_UsageError` for the first mistake."""
    _check_address("--bind", args.bind, listen=True)
    if args.name is not None and not 1 <= len(args.name.encode()) <= 128:
        raise _UsageError(
            f"--name must be 1 to 128 bytes long, got {len(args.name.encode())} bytes"
        )
    for seed in args.join:
        _check_address("--join", seed, listen=False)
    try:
        seconds_option("--join-timeout", args.join_timeout)
    except ValueError as e:
        raise _UsageError(str(e)) from None
    overrides: dict[str, Any] = {}
    if args.key_file is not None:
        try:
            overrides["keys"] = read_keys(args.key_file)
        except OSError as e:
            raise _UsageError(f"--key-file {args.key_file}: {e.strerror or e}") from None
        except ValueError as e:
            raise _UsageError(f"--key-file {e}") from None
        overrides["label"] = args.label
    elif args.label:
        raise _UsageError("--label needs --key-file")
    if args.failure_detector is not None:
        overrides["failure_detector"] = args.failure_detector
    if args.node_timeout is not None:
        overrides["node_timeout"] = args.node_timeout
    return overrides


def run(args: argparse.Namespace) -> int:
    """Runs the agent until SIGTERM or SIGINT; returns the exit status."""
    try:
        overrides = _check_options(args)
        config = _PRESETS[args.preset](**overrides)
    except (_UsageError, ValueError) as e:
        print(f"rumor agent: {e}", file=sys.stderr)
        return 2
    signals = _Signals()
    signals.install()
    emit = _Printer(on_closed=signals.stop_from_any_thread)
    try:
        node = Node(name=args.name, bind=args.bind, config=config)
    except (RumorError, OSError, ValueError) as e:
        print(f"rumor agent: --bind {args.bind}: {e}", file=sys.stderr)
        return 2
    for kind in ("join", "leave", "fail", "suspect", "alive"):
        register = getattr(node, f"on_{kind}")
        register(lambda m, kind=kind: emit(kind, member=_member(m)))
    node.on_rumor(lambda r: emit("rumor", origin=r.origin, seq=r.seq, **_payload(r)))
    node.on_update(
        lambda member, key, value: emit("update", member=member, key=key, **_value(value))
    )
    node.on_refute(lambda a: emit("refute", state=_accused(a), incarnation=a.incarnation))
    try:
        server = _control_server(node, args.control) if args.control else None
    except (ValueError, OSError) as e:
        print(f"rumor agent: --control {args.control}: {e}", file=sys.stderr)
        node.close()
        return 2
    control = None
    if server is not None:
        where = server.server_address
        control = f"{where[0]}:{where[1]}" if isinstance(where, tuple) else str(where)
    emit("started", name=node.name, addr=node.addr, encrypted=bool(args.key_file), control=control)
    status = 0
    try:
        if args.join and not signals.stop.is_set():
            try:
                signals.cut_short(lambda: node.join(args.join, timeout=args.join_timeout))
            except RumorError as e:
                emit("join_failed", error=str(e))
                status = 1
                signals.stop.set()
        # No timeout: an idle agent does not wake up at all. A signal
        # interrupts the wait, and its handler sets the event.
        signals.stop.wait()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
            if isinstance(server.server_address, str):
                os.unlink(server.server_address)  # the Unix socket this agent made
        try:
            # A second signal cuts the graceful leave short.
            signals.cut_short(lambda: node.leave(timeout=5.0))
        except RumorError as e:
            emit("leave_incomplete", error=str(e))
        node.close()
        emit("stopped", name=node.name)
    return status


def _payload(r: Rumor) -> dict[str, Any]:
    """A rumor's payload as JSON fields: UTF-8 text as is, other bytes in hex,
    with ``encoding`` saying which."""
    try:
        return {"payload": r.payload.decode("utf-8"), "encoding": "text"}
    except UnicodeDecodeError:
        return {"payload": r.payload.hex(), "encoding": "hex"}


def _accused(a: Accusation) -> str:
    return a.state.value
