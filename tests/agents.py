"""``rumor agent`` processes for the command-line tests, read line by line.

Each test ends only the agents it started, by handle (so by PID).
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from support import wait_until

TIMEOUT = 30.0
"""Seconds any one line, exit or answer gets: generous, the machine is small."""


class Agent:
    """A ``rumor agent`` process this test started, read line by line.

    ``Agent(*flags)`` runs ``python -m rumor agent --preset local *flags``;
    ``argv`` runs a whole other command line instead. With ``stderr=True``
    its stderr is kept too, line by line, in :attr:`errors`.
    """

    def __init__(self, *args: str, argv: Sequence[str] | None = None, stderr: bool = False) -> None:
        if argv is None:
            argv = [sys.executable, "-m", "rumor", "agent", "--preset", "local", *args]
        self.proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr else None,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        # A thread reads stdout, so waiting never depends on Python's buffer.
        self.incoming: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()
        self.error_reader: threading.Thread | None = None
        if stderr:
            self.error_reader = threading.Thread(target=self._read_errors, daemon=True)
            self.error_reader.start()
        self.started = self.next("started")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            self.incoming.put(text)
        self.incoming.put("")  # end of output

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        for text in self.proc.stderr:
            with self._errors_lock:
                self._errors.append(text.rstrip("\n"))

    @property
    def errors(self) -> list[str]:
        """The lines of stderr read so far (with ``stderr=True``)."""
        with self._errors_lock:
            return list(self._errors)

    def next(self, event: str) -> dict[str, Any]:
        """Reads lines until one of ``event`` comes; fails after TIMEOUT."""
        for seen in self.lines:
            if seen["event"] == event:
                self.lines.remove(seen)
                return seen
        while True:
            try:
                text = self.incoming.get(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"no {event!r} line within {TIMEOUT} s")
            assert text, f"agent exited ({self.proc.poll()}) before {event!r}"
            line: dict[str, Any] = json.loads(text)
            if line["event"] == event:
                return line
            self.lines.append(line)

    def stop(self) -> int:
        """SIGTERM to this agent's PID, then its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(TIMEOUT)
        self.reader.join(TIMEOUT)  # it reaches the end of the output
        if self.error_reader is not None:
            self.error_reader.join(TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code

    def kill(self) -> None:
        """At the end of a test: SIGKILL if still running, then :meth:`stop`."""
        if self.proc.poll() is None:
            self.proc.kill()  # only the agent this test started, by handle
        self.stop()


def cli(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``python -m rumor *args``, run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "rumor", *args], capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP when this returns (a
    node listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def cli_until(
    status: int, *args: str, deadline: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m rumor *args`` again until it exits with ``status``
    (for what the cluster reaches by gossip, not at once: another member
    seen alive); fails at the deadline with the last run's output."""
    runs: list[subprocess.CompletedProcess[str]] = []

    def exited_so() -> bool:
        runs.append(cli(*args))
        return runs[-1].returncode == status

    wait_until(exited_so, deadline, lambda: f"still {runs[-1]}")
    return runs[-1]
