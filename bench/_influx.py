"""A real InfluxDB for the ingest benchmark and the tests: influxd 1.x behind nginx.

No InfluxDB 2.x/3.x server can be installed here, so this starts Debian's
influxd (1.x API: /write, /query, /ping) and puts nginx in front of it to map
``/api/v2/write?bucket=…&precision=…`` onto ``/write?db=…&precision=…`` —
what InfluxDB 1.8's compatibility endpoint does inside the server (a bucket
``db/rp`` becomes ``db=db&rp=rp``: a write to a retention policy). influxdb-
client is pointed at nginx and speaks its normal 2.x write API; reads use
InfluxQL over ``/query``, which 1.x, 2.x and 3.x all serve.

Everything binds 127.0.0.1 on ports the OS hands out, and every file (data,
WAL, meta, nginx temp/logs/pid) lives in one temporary directory, so several
test sessions can run side by side.

:class:`InfluxServer` is a plain context manager (the benchmark uses it so);
the tests' pytest fixtures (tests/fixtures/influx.py) start it, or skip
where ``influxd`` or ``nginx`` is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from bench._ports import free_port

STARTUP_TIMEOUT_S = 60.0  # generous: the machine is shared and loaded


class InfluxUnavailable(RuntimeError):
    """influxd or nginx is not installed here."""


def missing_binaries() -> list[str]:
    return [name for name in ("influxd", "nginx") if shutil.which(name) is None]


def _rewrite_toml(text: str, changes: dict[tuple[str, str], str]) -> str:
    """Set ``key = value`` in ``[section]`` ("" = top level) of influxd's config.

    Only the first table of a name is touched (``[[graphite]]`` and the like
    stay disabled); keys not already present are added at the end of their
    section.
    """
    pending = dict(changes)
    out: list[str] = []
    section = ""
    seen: set[str] = {""}

    def add_missing(current: str) -> None:
        for (sec, key), value in list(pending.items()):
            if sec == current:
                out.append(f"  {key} = {value}")
                del pending[(sec, key)]

    for line in text.splitlines():
        header = re.match(r"^\s*\[+([^\]]+)\]+\s*$", line)
        if header:
            add_missing(section)
            section = header.group(1).strip()
            if section in seen:
                section = f"{section}#again"
            seen.add(section)
            out.append(line)
            continue
        kv = re.match(r"^(\s*)([A-Za-z0-9_-]+)\s*=", line)
        if kv and (section, kv.group(2)) in pending:
            out.append(f"{kv.group(1)}{kv.group(2)} = {pending.pop((section, kv.group(2)))}")
        else:
            out.append(line)
    add_missing(section)
    if pending:
        raise RuntimeError(f"influxd config has no section for {sorted(pending)}")
    return "\n".join(out) + "\n"


def _toml_str(value: str | Path) -> str:
    return json.dumps(str(value))


class InfluxServer:
    """influxd + nginx in a temporary directory, on free loopback ports."""

    def __init__(self, root: Path | None = None, bucket: str = "shopfloor_test") -> None:
        missing = missing_binaries()
        if missing:
            raise InfluxUnavailable(f"{' and '.join(missing)} not installed (apt-get install -y influxdb nginx-light)")
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="influx-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.bucket = bucket
        self.org = "shopfloor"
        self.token = "test-token-ignored-by-influxdb-1x"
        self.influx_port = 0
        self.url = ""
        self.influx_url = ""
        self._influxd: subprocess.Popen[bytes] | None = None
        self._nginx: subprocess.Popen[bytes] | None = None
        self._influx_config = self.root / "influxd.conf"

    # ------------------------------------------------------------- lifecycle

    def start(self) -> InfluxServer:
        for attempt in range(3):  # a port picked as free can be taken before influxd binds it
            self.influx_port, rpc_port = free_port(), free_port()
            self._write_influx_config(rpc_port)
            try:
                self.start_influx()
                break
            except RuntimeError:
                self.stop_influx()
                if attempt == 2:
                    raise
        self.create_database(self.bucket)
        for attempt in range(3):
            nginx_port = free_port()
            try:
                self._start_nginx(nginx_port)
                break
            except RuntimeError:
                self._stop(self._nginx)
                if attempt == 2:
                    raise
        return self

    def close(self) -> None:
        self._stop(self._nginx)
        self._nginx = None
        self.stop_influx()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> InfluxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def stop_influx(self) -> None:
        """Stop influxd (nginx keeps running and answers 502 — like a server that went away)."""
        self._stop(self._influxd)
        self._influxd = None

    def start_influx(self) -> None:
        """(Re)start influxd on the same ports and data directory; returns once /ping answers 204."""
        if self._influxd is not None and self._influxd.poll() is None:
            return
        log = open(self.root / "influxd.log", "ab")  # noqa: SIM115  # the child owns it
        self._influxd = subprocess.Popen(
            ["influxd", "-config", str(self._influx_config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self._wait(lambda: self._ping() == 204, self._influxd, "influxd /ping")

    # ------------------------------------------------------------- helpers

    def query(self, q: str, db: str | None = None) -> dict[str, Any]:
        """Run InfluxQL directly against influxd; returns the decoded JSON (raises on an error)."""
        params = urllib.parse.urlencode({"db": db or self.bucket, "q": q, "epoch": "ns"})
        request = urllib.request.Request(f"{self.influx_url}/query", data=params.encode(), method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(request, timeout=60) as response:
            body: dict[str, Any] = json.loads(response.read())
        for result in body.get("results", []):
            if "error" in result:
                raise RuntimeError(f"InfluxQL {q!r}: {result['error']}")
        return body

    def count(self, measurement: str, field: str, where: str = "", db: str | None = None) -> int:
        """``count(field)`` over all time (0 when there is nothing)."""
        clause = f" WHERE {where}" if where else ""
        body = self.query(f'SELECT count("{field}") FROM "{measurement}"{clause}', db=db)
        series = body["results"][0].get("series", [])
        return int(series[0]["values"][0][1]) if series else 0

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"', db="")

    def new_bucket(self) -> str:
        """A fresh, empty database: isolates tests that share one server."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.create_database(name)
        return name

    def write_raw(self, lines: str, db: str | None = None) -> int:
        """POST line protocol straight to influxd's 1.x /write; returns the HTTP status."""
        params = urllib.parse.urlencode({"db": db or self.bucket, "precision": "ns"})
        request = urllib.request.Request(f"{self.influx_url}/write?{params}", data=lines.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def log_tail(self, chars: int = 4000) -> str:
        parts = []
        for name in ("influxd.log", "nginx-error.log"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    # ------------------------------------------------------------- internals

    def _write_influx_config(self, rpc_port: int) -> None:
        base = subprocess.run(["influxd", "config"], capture_output=True, text=True, check=True).stdout
        data = self.root / "influxdb"
        changes = {
            ("", "bind-address"): _toml_str(f"127.0.0.1:{rpc_port}"),
            ("meta", "dir"): _toml_str(data / "meta"),
            ("data", "dir"): _toml_str(data / "data"),
            ("data", "wal-dir"): _toml_str(data / "wal"),
            ("data", "query-log-enabled"): "false",
            ("monitor", "store-enabled"): "false",  # no _internal database writes competing with tests
            ("retention", "check-interval"): _toml_str("1s"),  # a retention test sees the server drop at once
            ("http", "bind-address"): _toml_str(f"127.0.0.1:{self.influx_port}"),
            ("http", "log-enabled"): "false",
            ("http", "pprof-enabled"): "false",
            ("logging", "level"): _toml_str("warn"),
        }
        # Upstream spells it reporting-disabled; Debian's default config writes reporting-enabled.
        if re.search(r"^reporting-enabled\s*=", base, re.M):
            changes[("", "reporting-enabled")] = "false"
        else:
            changes[("", "reporting-disabled")] = "true"
        self._influx_config.write_text(_rewrite_toml(base, changes))
        self.influx_url = f"http://127.0.0.1:{self.influx_port}"

    def _start_nginx(self, port: int) -> None:
        tmp = self.root / "nginx"
        tmp.mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the 0700 temp dir
        upstream = f"127.0.0.1:{self.influx_port}"
        config = f"""{user}daemon off;
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {self.root / "nginx-error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp / "client_body"};
    proxy_temp_path {tmp / "proxy"};
    fastcgi_temp_path {tmp / "fastcgi"};
    uwsgi_temp_path {tmp / "uwsgi"};
    scgi_temp_path {tmp / "scgi"};
    client_max_body_size 0;
    client_body_buffer_size 32m;
    proxy_read_timeout 120s;
    upstream influxd {{ server {upstream}; keepalive 8; }}
    # bucket "db/rp" (percent-encoded by the client) names a retention policy, as InfluxDB 1.8 reads it
    map $arg_bucket $influx_db {{ "~^([^/%]+)(/|%2[Ff])(.+)$" $1; default $arg_bucket; }}
    map $arg_bucket $influx_rp {{ "~^([^/%]+)(/|%2[Ff])(.+)$" $3; default ""; }}
    server {{
        listen 127.0.0.1:{port};
        location = /api/v2/write {{
            rewrite ^ /write?db=$influx_db&rp=$influx_rp&precision=$arg_precision? break;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://influxd;
        }}
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://influxd;
        }}
    }}
}}
"""
        path = self.root / "nginx.conf"
        path.write_text(config)
        self._nginx = subprocess.Popen(
            ["nginx", "-c", str(path), "-e", str(self.root / "nginx-error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        self._wait(lambda: self._http_status(f"{self.url}/ping") == 204, self._nginx, "nginx → influxd /ping")

    def _ping(self) -> int | None:
        return self._http_status(f"{self.influx_url}/ping")

    @staticmethod
    def _http_status(url: str) -> int | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return None

    def _wait(self, ready: Any, process: subprocess.Popen[bytes] | None, what: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if ready():
                return
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{what}: process exited with {process.returncode}\n{self.log_tail()}")
            time.sleep(0.05)  # polling a condition with a deadline, not a timing assumption
        raise RuntimeError(f"{what}: not ready after {STARTUP_TIMEOUT_S} s\n{self.log_tail()}")

    @staticmethod
    def _stop(process: subprocess.Popen[bytes] | None) -> None:
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
