"""A real third-party OPC UA server for the collector tests: node-opcua (tests/peers/node-opcua).

The server is a Node.js process on a free loopback port, serving robot R01 of
the fleet namespace with Basic256Sha256 SignAndEncrypt and without trusting
unknown client certificates (see tests/peers/node-opcua/server.mjs). Its PKI
folder is the test's own temporary directory.

Install it once with ``npm ci --prefix tests/peers/node-opcua --no-audit --no-fund``.
Where node or that install is missing the fixture skips with the reason,
unless ``SHOPFLOOR_REQUIRE_NODE_OPCUA=1`` (set by CI), where it fails instead.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from bench._ports import free_port

REQUIRE_ENV = "SHOPFLOOR_REQUIRE_NODE_OPCUA"
PEER_DIR = Path(__file__).resolve().parents[2] / "peers" / "node-opcua"
INSTALL_COMMAND = "npm ci --prefix tests/peers/node-opcua --no-audit --no-fund"
STARTUP_TIMEOUT_S = 120.0  # generous: loading node-opcua's nodesets takes seconds on a loaded machine
STOP_TIMEOUT_S = 60.0


class NodeOpcuaUnavailable(RuntimeError):
    """node or the npm install of the peer is missing."""


def missing() -> str | None:
    """Why the peer cannot run here, or None."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed (Node.js 20 or newer)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < 20:
        return f"node {version} is too old: node-opcua 2.182 needs Node.js 20 or newer"
    if not (PEER_DIR / "node_modules" / "node-opcua").is_dir():
        return f"{PEER_DIR / 'node_modules'} is missing (run: {INSTALL_COMMAND})"
    return None


class NodeOpcuaServer:
    """``node server.mjs <port> <pki>`` until :meth:`close`; ``trust`` is a client certificate (DER) it trusts."""

    def __init__(self, workdir: Path, trust: Path | None = None) -> None:
        reason = missing()
        if reason is not None:
            raise NodeOpcuaUnavailable(reason)
        self.workdir = workdir
        self.trust = trust
        self.port = 0
        self.process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr_path = workdir / "node-opcua.stderr"

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/shopfloor/fleet"

    def start(self) -> NodeOpcuaServer:
        attempts = 3  # a port picked as free can be taken before node binds it
        while True:
            attempts -= 1
            self.port = free_port()
            try:
                self._start_process()
            except RuntimeError:
                if attempts == 0:
                    raise
            else:
                return self

    def _start_process(self) -> None:
        args = ["node", "server.mjs", str(self.port), str(self.workdir / "pki")]
        if self.trust is not None:
            args.append(str(self.trust))
        self._lines = queue.Queue()
        with open(self._stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                args,
                cwd=PEER_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,
            )
        threading.Thread(target=self._read_stdout, args=(self.process,), daemon=True).start()
        line = self.wait_for_line("listening ", STARTUP_TIMEOUT_S)
        if line != f"listening {self.url}":
            raise RuntimeError(f"node-opcua listens on {line!r}, expected {self.url}")

    def _read_stdout(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # end of output: the process is gone

    def wait_for_line(self, prefix: str, timeout_s: float) -> str:
        """The next stdout line starting with ``prefix``; RuntimeError if the process ends or the deadline passes."""
        while True:
            try:
                line = self._lines.get(timeout=timeout_s)
            except queue.Empty:
                self.kill()
                raise RuntimeError(
                    f"node-opcua printed no {prefix!r} line within {timeout_s:g} s\n{self.stderr()}"
                ) from None
            if line is None:
                code = self.process.wait() if self.process is not None else None
                raise RuntimeError(f"node-opcua exited with {code} before printing {prefix!r}\n{self.stderr()}")
            if line.startswith(prefix):
                return line

    def stderr(self, chars: int = 4000) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def trust_certificate(self, certificate: Path) -> None:
        """Trust a client certificate (DER) while running, as an administrator would; returns once it is done."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(f"trust {certificate}\n")
        self.process.stdin.flush()
        self.wait_for_line(f"trusted {certificate}", STOP_TIMEOUT_S)

    def shutdown(self) -> None:
        """SIGTERM: node-opcua shuts down as an operator's stop would (sessions closed, then sockets)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.wait_for_line("stopped", STOP_TIMEOUT_S)
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def close(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()


def start_or_skip(workdir: Path, trust: Path | None = None) -> NodeOpcuaServer:
    """Start the peer, or skip the test where node or the npm install is missing (fail instead in CI)."""
    try:
        return NodeOpcuaServer(workdir, trust).start()
    except NodeOpcuaUnavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but the node-opcua peer cannot be started: {exc}", pytrace=False)
        pytest.skip(f"node-opcua peer unavailable: {exc}")
