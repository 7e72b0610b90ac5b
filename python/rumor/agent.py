"""``rumor agent``: one node as a process, and the control socket that
``rumor members`` and ``rumor broadcast`` talk to.

The agent prints one JSON object per line on stdout for each event, and
leaves the cluster gracefully on SIGTERM or SIGINT before it exits. With
``--control`` it listens on a loopback ``host:port`` or a Unix socket path
for one-line commands (``members``, ``broadcast <text>``,
``join [--timeout=SECONDS] <seed>...``, ``stats``, ``health``), each
answered with JSON lines and the connection closed.

Every option is also a key of a TOML file given with ``--config`` (the flag
without its dashes: ``join-timeout = 5``); a flag on the command line wins
over the file. ``--metrics host:port`` serves the node's counters in
Prometheus's text format at ``/metrics``. The agent's log (the ``rumor``
logger) goes to stderr, human-readable or, with ``--log-format json``, one
JSON object per line.

A mistake in the options or the file is one line on stderr naming the flag
or the key, and exit status 2, before the node starts. The ``started`` line
comes before any event line. If stdout is closed (``rumor agent ... | head
-1``), the agent stops as on SIGTERM, without a traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import math
import os
import select
import signal
import socket
import socketserver
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from rumor._native import Config
from rumor.errors import RumorError
from rumor.member import Accusation, Member
from rumor.news import Rumor, Value
from rumor.node import Node

if TYPE_CHECKING:
    # Loaded by _metrics_server only: http.server brings http.client and
    # ssl, 6 MiB of RSS that an agent without --metrics does not need.
    import http.server

__all__ = [
    "JOIN_TIMEOUT",
    "OPTIONS",
    "REPLY_MARGIN",
    "add_arguments",
    "health",
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


@dataclass(frozen=True)
class _Option:
    """One option of the agent: the flag ``--<key>`` and the key ``<key>``
    of the ``--config`` file, with one default and one help text for both."""

    key: str
    kind: type  # str, float or list (of str)
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return f"--{self.key}"


OPTIONS = (
    _Option(
        "bind",
        str,
        None,
        "host:port to gossip on (required; 0.0.0.0:PORT or [::]:PORT for every interface)",
    ),
    _Option(
        "advertise",
        str,
        None,
        "host or host:port the other members reach this one at (default: the bind "
        "address; with 0.0.0.0 or [::], this host's routable address)",
    ),
    _Option("name", str, None, "unique member name (default: the advertised address)"),
    _Option("join", list, [], "seed address (repeatable)", metavar="SEED"),
    _Option(
        "join-timeout",
        float,
        JOIN_TIMEOUT,
        f"how long --join waits for a seed to answer (default {JOIN_TIMEOUT:g})",
        metavar="SECONDS",
    ),
    _Option("preset", str, "lan", "timing preset (default lan)", choices=tuple(sorted(_PRESETS))),
    _Option(
        "failure-detector",
        str,
        None,
        "swim (the default: SWIM with Lifeguard) or quorum (Redis Cluster's PFAIL/FAIL)",
        choices=("swim", "quorum"),
    ),
    _Option(
        "node-timeout", float, None, "the quorum detector's timeout (default 15)", metavar="SECONDS"
    ),
    _Option(
        "closed-port-evidence",
        str,
        None,
        "on or off: a probe refused by a closed port, checked once, fails the member at "
        "once (default: the preset's, on in lan and local, off in wan)",
        choices=("on", "off"),
    ),
    _Option(
        "key-file",
        str,
        None,
        "file with encryption keys, one per line as 64 hex digits, the primary first "
        "(in a --config file, relative to the file's folder)",
    ),
    _Option("label", str, "", "cluster label (needs --key-file)"),
    _Option(
        "control",
        str,
        None,
        "loopback host:port or Unix socket path for rumor members, broadcast, join and health",
    ),
    _Option(
        "metrics",
        str,
        None,
        "host:port to serve Prometheus metrics on, at /metrics (0.0.0.0 for every interface)",
        metavar="HOST:PORT",
    ),
    _Option(
        "log-format",
        str,
        "text",
        "the log on stderr: text (for people, the default) or json (one object per line)",
        choices=("text", "json"),
    ),
    _Option(
        "log-level",
        str,
        "warning",
        "the least severe log records shown (default warning; info adds joins and failures)",
        choices=("debug", "info", "warning", "error"),
    ),
)
"""Every option of ``rumor agent``, each both a flag and a ``--config`` key."""

_BY_KEY = {o.key: o for o in OPTIONS}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # No defaults here: a flag left out must not hide the value of the
    # --config file; _settings fills in the defaults after the file.
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file of options, keyed by flag name without dashes; flags override it",
    )
    for o in OPTIONS:
        extra: dict[str, Any] = {}
        if o.kind is list:
            extra["action"] = "append"
        elif o.kind is float:
            extra["type"] = float
        if o.choices:
            extra["choices"] = o.choices
        parser.add_argument(
            o.flag, default=argparse.SUPPRESS, metavar=o.metavar, help=o.help, **extra
        )


def _read_config(path: str) -> dict[str, Any]:
    """The options of the TOML file at ``path``, each checked for its type;
    :class:`_UsageError` naming the key (and what it allows) otherwise."""
    # Imported here: the TOML parser (and the datetime it loads) is about
    # 0.5 MiB of every agent's memory, and most agents have no config file.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the same parser, from PyPI
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as e:
        raise _UsageError(f"--config {path}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise _UsageError(f"--config {path}: not a TOML file: {e}") from None
    out: dict[str, Any] = {}
    for key, value in table.items():
        o = _BY_KEY.get(key)
        if o is None:
            known = ", ".join(_BY_KEY)
            raise _UsageError(f"{path}: unknown key {key!r}; the keys are {known}")
        where = f"{path}: {key}"
        if o.kind is list:
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise _UsageError(f'{where} must be a list of "host:port" strings, got {value!r}')
        elif o.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _UsageError(f"{where} must be a number of seconds, got {value!r}")
            value = float(value)
        elif not isinstance(value, str):
            raise _UsageError(f"{where} must be a string, got {value!r}")
        if o.choices and value not in o.choices:
            allowed = ", ".join(repr(c) for c in o.choices)
            raise _UsageError(f"{where} must be one of {allowed}; got {value!r}")
        if key == "key-file" and not os.path.isabs(value):
            value = os.path.join(os.path.dirname(path), value)
        out[key] = value
    return out


def _settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """Every option's value (the command line's, else the file's, else the
    default) and, for each, what to call it in an error: ``--flag`` or
    ``FILE: key``."""
    given = {
        o.key: getattr(args, o.key.replace("-", "_"))
        for o in OPTIONS
        if hasattr(args, o.key.replace("-", "_"))
    }
    from_file = _read_config(args.config) if getattr(args, "config", None) else {}
    settings: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for o in OPTIONS:
        if o.key in given:
            settings[o.key], labels[o.key] = given[o.key], o.flag
        elif o.key in from_file:
            settings[o.key], labels[o.key] = from_file[o.key], f"{args.config}: {o.key}"
        else:
            default = list(o.default) if isinstance(o.default, list) else o.default
            settings[o.key], labels[o.key] = default, o.flag
    if settings["bind"] is None:
        raise _UsageError("--bind is required (on the command line, or bind in a --config file)")
    return settings, labels


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
        self.wakeup_read, self.wakeup_write = os.pipe()
        for fd in (self.wakeup_read, self.wakeup_write):
            os.set_blocking(fd, False)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()
        if self.armed:
            self.armed = False
            raise _Stop

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self)
        # The kernel may hand a signal to any thread (a dispatcher's, a
        # tokio worker's), and then a lock wait in the main thread is never
        # interrupted to run the handler. Whichever thread takes it, the
        # interpreter writes a byte to the wakeup fd: wait() watches it.
        signal.set_wakeup_fd(self.wakeup_write, warn_on_full_buffer=False)

    def wait(self) -> None:
        """Blocks the main thread until ``stop`` is set, by a signal or by
        :meth:`set`, without waking up in between."""
        while not self.stop.is_set():
            # The handler runs in the main thread once select returns (it
            # checks for signals before the loop's next test).
            select.select([self.wakeup_read], [], [])
            try:
                os.read(self.wakeup_read, 4096)
            except BlockingIOError:
                pass

    def set(self) -> None:
        """Sets ``stop`` from the main thread, with no signal."""
        self.stop.set()
        os.write(self.wakeup_write, b"\0")

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
    """Serves ``members``, ``broadcast <text>``, ``join <seed>...``,
    ``stats`` and ``health`` on ``where``."""

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
                elif cmd == "health":
                    out = [health(node)]
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
    """``text`` is ``host:port`` with a host that resolves and a port from
    1 (0 too, for an address to listen on: any free port) to 65535. To
    listen on, ``0.0.0.0`` is fine: the node then advertises a routable
    address (or the node says it has none)."""
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
        socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        raise _UsageError(f"{flag} {text}: cannot resolve the host {host!r}") from None


def _check_advertise(flag: str, text: str) -> None:
    """``text`` is ``host`` or ``host:port`` with a host that resolves to an
    address other members can reach (not ``0.0.0.0``)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or (":" in host and not host.startswith("[")):
        host, port = text, "0"  # no port: the bound one
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not 0 <= int(port) <= 65535:
        raise _UsageError(f"{flag} must be host or host:port such as 192.0.2.7; got {text!r}")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        raise _UsageError(f"{flag} {text}: cannot resolve the host {host!r}") from None
    # All-zero bytes: 0.0.0.0 or ::. (Checked without the ipaddress module,
    # about 0.2 MiB of every agent's memory.)
    family, address = infos[0][0], str(infos[0][4][0]).partition("%")[0]
    if not any(socket.inet_pton(family, address)):
        raise _UsageError(
            f"{flag} {text}: give the address other members reach this one at, "
            "such as 192.0.2.7, not an unspecified address"
        )


def _check_options(settings: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """Every option checked before anything starts; the config overrides.
    Raises :class:`_UsageError` for the first mistake, naming the flag or
    the file's key as ``labels`` says."""
    _check_address(labels["bind"], settings["bind"], listen=True)
    if settings["advertise"] is not None:
        _check_advertise(labels["advertise"], settings["advertise"])
    name = settings["name"]
    if name is not None and not 1 <= len(name.encode()) <= 128:
        raise _UsageError(
            f"{labels['name']} must be 1 to 128 bytes long, got {len(name.encode())} bytes"
        )
    for seed in settings["join"]:
        _check_address(labels["join"], seed, listen=False)
    try:
        seconds_option(labels["join-timeout"], settings["join-timeout"])
    except ValueError as e:
        raise _UsageError(str(e)) from None
    if settings["metrics"] is not None:
        _check_address(labels["metrics"], settings["metrics"], listen=True)
    overrides: dict[str, Any] = {}
    key_file, label = settings["key-file"], settings["label"]
    if key_file is not None:
        try:
            overrides["keys"] = read_keys(key_file)
        except OSError as e:
            raise _UsageError(f"{labels['key-file']} {key_file}: {e.strerror or e}") from None
        except ValueError as e:
            raise _UsageError(f"{labels['key-file']} {e}") from None
        overrides["label"] = label
    elif label:
        raise _UsageError(f"{labels['label']} needs --key-file")
    if settings["failure-detector"] is not None:
        overrides["failure_detector"] = settings["failure-detector"]
    if settings["node-timeout"] is not None:
        overrides["node_timeout"] = settings["node-timeout"]
    if settings["closed-port-evidence"] is not None:
        overrides["closed_port_evidence"] = settings["closed-port-evidence"] == "on"
    return overrides


def _config(settings: dict[str, Any], labels: dict[str, str], overrides: dict[str, Any]) -> Config:
    """The node's config; a value the config refuses is a :class:`_UsageError`
    that starts with the flag or key it came from."""
    try:
        return _PRESETS[settings["preset"]](**overrides)
    except ValueError as e:
        field = str(e).split(" ", 1)[0].replace("_", "-")
        where = labels.get("key-file" if field == "keys" else field)
        raise _UsageError(f"{where}: {e}" if where else str(e)) from None


class _JSONLines(logging.Formatter):
    """One JSON object per record, for log shippers: ``time`` (Unix
    seconds), ``level``, ``logger``, ``message`` (and ``exception``)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def _start_logging(log_format: str, level: str) -> None:
    """The ``rumor`` logger (the nodes' and this agent's) to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JSONLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("rumor")
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


_log = logging.getLogger("rumor.agent")


def _metrics_server(node: Node, where: str) -> http.server.ThreadingHTTPServer:
    """Serves ``node.metrics_text()`` at ``http://<where>/metrics``, in
    Prometheus's text format; 404 for any other path."""
    import http.server  # here, not with the module: see the TYPE_CHECKING import

    class HTTP6(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = 10.0  # an idle client does not hold a thread forever
        server_version = "rumor"

        def do_GET(self) -> None:
            if self.path.partition("?")[0] != "/metrics":
                self.send_error(404, "not found: metrics are at /metrics")
                return
            try:
                body = node.metrics_text().encode()
            except RumorError as e:  # the node is closing
                self.send_error(503, str(e))
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            _log.debug("metrics: %s %s", self.address_string(), format % args)

    host, _, port = where.rpartition(":")
    host = host.strip("[]")
    family = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0][0]
    server_class = HTTP6 if family == socket.AF_INET6 else http.server.ThreadingHTTPServer
    server = server_class((host, int(port)), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="rumor-metrics", daemon=True).start()
    return server


def health(node: Node) -> dict[str, Any]:
    """Whether ``node`` is a live member that sees at least one other live
    member (what a load balancer or a readiness probe wants to know), with
    a one-line ``reason``."""
    members = node.members()
    me = next((m for m in members if m.name == node.name), None)
    state = me.state.value if me is not None else "unknown"
    others = [m for m in members if m.name != node.name]
    alive = sum(1 for m in others if m.state.value == "alive")
    if state != "alive":
        reason = f"{node.name} is {state}, not a live member"
    elif alive == 0:
        reason = f"{node.name} is alive but sees no other live member ({len(others)} known)"
    else:
        reason = f"{node.name} is alive and sees {alive} other live member(s)"
    return {
        "healthy": state == "alive" and alive > 0,
        "name": node.name,
        "state": state,
        "alive_others": alive,
        "reason": reason,
    }


def _address(server: socketserver.BaseServer) -> str:
    where = server.server_address
    if isinstance(where, tuple):
        host = str(where[0])
        return f"[{host}]:{where[1]}" if ":" in host else f"{host}:{where[1]}"
    return str(where)


def run(args: argparse.Namespace) -> int:
    """Runs the agent until SIGTERM or SIGINT; returns the exit status."""
    try:
        settings, labels = _settings(args)
        overrides = _check_options(settings, labels)
        config = _config(settings, labels, overrides)
    except _UsageError as e:
        print(f"rumor agent: {e}", file=sys.stderr)
        return 2
    _start_logging(settings["log-format"], settings["log-level"])
    signals = _Signals()
    signals.install()
    emit = _Printer(on_closed=signals.stop_from_any_thread)
    bind = settings["bind"]
    try:
        node = Node(
            name=settings["name"], bind=bind, config=config, advertise=settings["advertise"]
        )
    except (RumorError, OSError, ValueError) as e:
        print(f"rumor agent: {labels['bind']} {bind}: {e}", file=sys.stderr)
        return 2
    for kind in ("join", "leave", "suspect", "alive"):
        register = getattr(node, f"on_{kind}")
        register(lambda m, kind=kind: emit(kind, member=_member(m)))
    # A failure names its reason (null when unknown).
    node.on_fail(lambda m: emit("fail", member=_member(m), reason=m.failure_reason))
    node.on_rumor(lambda r: emit("rumor", origin=r.origin, seq=r.seq, **_payload(r)))
    node.on_update(
        lambda member, key, value: emit("update", member=member, key=key, **_value(value))
    )
    node.on_refute(lambda a: emit("refute", state=_accused(a), incarnation=a.incarnation))
    servers: list[socketserver.BaseServer] = []
    for key, start in (("control", _control_server), ("metrics", _metrics_server)):
        if settings[key] is None:
            continue
        try:
            servers.append(start(node, settings[key]))
        except (ValueError, OSError) as e:
            print(f"rumor agent: {labels[key]} {settings[key]}: {e}", file=sys.stderr)
            for server in servers:
                _close(server)
            node.close()
            return 2
    control = _address(servers[0]) if settings["control"] is not None else None
    metrics = _address(servers[-1]) if settings["metrics"] is not None else None
    emit(
        "started",
        name=node.name,
        addr=node.addr,
        encrypted=settings["key-file"] is not None,
        control=control,
        metrics=metrics,
    )
    _log.info("%s: started on %s (control %s, metrics %s)", node.name, node.addr, control, metrics)
    status = 0
    try:
        seeds = settings["join"]
        if seeds and not signals.stop.is_set():
            try:
                timeout = settings["join-timeout"]
                joined = signals.cut_short(lambda: node.join(seeds, timeout=timeout))
                if joined is not None:
                    _log.info("%s: joined through %d of %d seeds", node.name, joined, len(seeds))
            except RumorError as e:
                emit("join_failed", error=str(e))
                _log.error("%s: join failed: %s", node.name, e)
                status = 1
                signals.set()
        # No timeout: an idle agent does not wake up at all. A signal
        # wakes the wait up, and its handler sets the event.
        signals.wait()
    finally:
        for server in servers:
            _close(server)
        _log.info("%s: leaving", node.name)
        try:
            # A second signal cuts the graceful leave short.
            signals.cut_short(lambda: node.leave(timeout=5.0))
        except RumorError as e:
            emit("leave_incomplete", error=str(e))
            _log.warning("%s: leave incomplete: %s", node.name, e)
        node.close()
        emit("stopped", name=node.name)
        _log.info("%s: stopped", node.name)
    return status


def _close(server: socketserver.BaseServer) -> None:
    server.shutdown()
    server.server_close()
    if isinstance(server.server_address, str):
        os.unlink(server.server_address)  # the Unix socket this agent made


def _payload(r: Rumor) -> dict[str, Any]:
    """A rumor's payload as JSON fields: UTF-8 text as is, other bytes in hex,
    with ``encoding`` saying which."""
    try:
        return {"payload": r.payload.decode("utf-8"), "encoding": "text"}
    except UnicodeDecodeError:
        return {"payload": r.payload.hex(), "encoding": "hex"}


def _accused(a: Accusation) -> str:
    return a.state.value
