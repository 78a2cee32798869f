"""Processes a test starts (`signpost serve`, `signpost worker`, gunicorn) whose output is collected line by
line by a thread, so that a test waits for what a process says instead of sleeping."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time

STARTUP_TIMEOUT_SECONDS = 60


class Process:
    """A `signpost` subprocess whose output a thread collects line by line (so nobody sleeps on it)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd, name: str = ""):
        self.name = name
        self.popen = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(re.search(pattern, line) for line in self.lines):
                remaining = deadline - time.monotonic()
                if self.popen.poll() is not None or remaining <= 0:
                    raise AssertionError(f"no line matching {pattern!r}:\n" + "".join(self.lines))
                self._changed.wait(min(remaining, 1.0))

    def says(self, pattern: str) -> bool:
        with self._changed:
            return any(re.search(pattern, line) for line in self.lines)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)
        self._reader.join(timeout=30)

    def stop(self) -> int:
        """SIGTERM, then every line it wrote; returns its exit status."""
        self.popen.terminate()
        status = self.popen.wait(timeout=30)
        self._reader.join(timeout=30)
        return status

    def matches(self, pattern: re.Pattern) -> list[re.Match]:
        """The match of ``pattern`` in each line that has one, in order."""
        with self._changed:
            return [m for m in map(pattern.search, self.lines) if m]
