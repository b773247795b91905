"""Running ``shopfloor`` commands as real processes, reading their output as it comes."""

from __future__ import annotations

import os
import queue
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class Command:
    """``python -m shopfloor.cli.main ARGS`` (or another ``module``) in its own process; its output lines (stdout
    and the log on stderr) are queued as they are printed."""

    def __init__(
        self,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        open_files: int | None = None,
        module: str = "shopfloor.cli.main",
    ) -> None:
        """``open_files``: the process's open-file limit (soft and hard), as ``ulimit -n`` would set it;
        ``module``: what ``python -m`` runs (``shopfloor.api`` for the API alone)."""
        full_env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **(env or {})}

        def limit_open_files() -> None:
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=cwd,
            env=full_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=limit_open_files if open_files is not None else None,
        )
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.all_lines: list[str] = []  # both streams, in the order the readers saw them
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream, sink: list[str]) -> None:  # type: ignore[no-untyped-def]  # stream: a text pipe of the child
        for raw in stream:
            line = raw.rstrip("\n")
            sink.append(line)
            self.all_lines.append(line)  # list.append is atomic: the two readers may share the list
            self._lines.put(line)
        self._lines.put(None)

    def wait_for_line(
        self,
        pattern: str,
        timeout_s: float = 60.0,
        where: Callable[[re.Match[str]], bool] = lambda _match: True,
        since: int = 0,
    ) -> re.Match[str]:
        """The first output line matching ``pattern`` (and ``where``), printed already or yet to come.

        Blocks on the output itself, not on a sleep. Lines printed before the
        call count: stdout and stderr interleave in no fixed order, so a
        test must not depend on which of two log lines came first. ``since``
        (an index into ``all_lines``) skips what was printed before a moment.
        """
        deadline = time.monotonic() + timeout_s
        seen = since
        ended = 0
        while True:
            upto = len(self.all_lines)  # a snapshot: the readers keep appending meanwhile
            for line in self.all_lines[seen:upto]:
                match = re.search(pattern, line)
                if match and where(match):
                    return match
            seen = upto
            if ended == len(self._readers) and len(self.all_lines) == seen:
                raise AssertionError(f"the process ended before printing {pattern!r}; {self.describe()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} within {timeout_s} s; {self.describe()}")
            try:
                if self._lines.get(timeout=remaining) is None:  # a wake-up: the line itself is in all_lines
                    ended += 1
            except queue.Empty:
                continue

    def interrupt(self, timeout_s: float = 30.0) -> int:
        """Ctrl-C, then the exit code (a clean shutdown is part of what is tested)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout_s)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def describe(self) -> str:
        return "stdout:\n" + "\n".join(self.stdout_lines[-20:]) + "\nstderr:\n" + "\n".join(self.stderr_lines[-30:])
