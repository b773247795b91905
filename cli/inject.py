"""``shopfloor inject``: inject a fault into a running ``shopfloor simulate --control-port``.

Examples::

    shopfloor inject printer stall on --control URL --key-file FILE
    shopfloor inject printer exception --signals water_l_total --code 4 ...
    shopfloor inject printer value speed_m_min 9999 ...       (or --words 0x7FC0,0 for a NaN)
    shopfloor inject printer estop on ...
    shopfloor inject fleet bad-status r03 StateOfCharge BadSensorFailure ...
    shopfloor inject fleet bad-status r03 StateOfCharge none ...   (the model's value again)
    shopfloor inject fleet value r01 soc_pct 150 ...
    shopfloor inject printer|fleet drop|clear ...;  shopfloor inject fleet restart ...

TARGET is ``printer``, ``fleet`` or an equipment id. The simulator checks
every name (target, fault, signal, robot, variable, status code) and answers
4xx with a message, which is printed; the command then exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from shopfloor.simulators.control import KEY_ENV

URL_ENV = "SHOPFLOOR_CONTROL_URL"

_SWITCH = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}


class UsageError(Exception):
    """Arguments that cannot make a request; printed with the usage hint."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inject",
        help="inject a fault into a running `shopfloor simulate --control-port`",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", help="printer, fleet, or an equipment id")
    parser.add_argument(
        "fault",
        help="stall, exception, value, estop, drop, clear (printer); "
        "stall, bad-status, value, drop, clear, restart (fleet)",
    )
    parser.add_argument("args", nargs="*", help="the fault's arguments (see the examples)")
    parser.add_argument("--signals", default=None, help="exception: comma-separated signals (default: every read)")
    parser.add_argument("--code", type=int, default=None, help="exception: the Modbus exception code")
    parser.add_argument("--words", default=None, help="printer value: raw register words, e.g. 0x7FC0,0")
    parser.add_argument(
        "--control",
        default=os.environ.get(URL_ENV),
        metavar="URL",
        help=f"the control URL `shopfloor simulate` printed (default: ${URL_ENV})",
    )
    parser.add_argument(
        "--key-file",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"the key file `shopfloor simulate` printed (default: ${KEY_ENV})",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the simulator")
    parser.set_defaults(func=run)


def _number(text: str) -> float | int | bool:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return float(text)  # also "nan", "inf": garbage is what a fault injection is for
    except ValueError:
        raise UsageError(f"{text!r} is not a number") from None


def _words(text: str) -> list[int]:
    try:
        return [int(w, 0) for w in text.split(",") if w.strip()]
    except ValueError:
        raise UsageError(f"--words wants comma-separated integers (e.g. 0x7FC0,0), got {text!r}") from None


def request_body(fault: str, args: list[str], ns: argparse.Namespace) -> dict[str, Any]:
    """The JSON arguments of a fault, from the command line (the simulator validates names and values)."""

    def expect(*names: str) -> None:
        if len(args) != len(names):
            wanted = " ".join(n.upper() for n in names) or "no arguments"
            raise UsageError(f"{fault} takes {wanted}, got {' '.join(args) or 'nothing'}")

    if fault in ("stall", "estop"):
        expect("on|off")
        if args[0].lower() not in _SWITCH:
            raise UsageError(f"{fault} takes on or off, got {args[0]!r}")
        return {"active": _SWITCH[args[0].lower()]}
    if fault == "exception":
        expect()
        if ns.code is None:
            raise UsageError("exception needs --code N (the Modbus exception code, e.g. 4)")
        signals = None if ns.signals is None else [s.strip() for s in ns.signals.split(",") if s.strip()]
        return {"signals": signals, "code": ns.code}
    if fault == "value" and len(args) == 3:  # a fleet variable: ROBOT VARIABLE VALUE
        return {"robot": args[0], "variable": args[1], "value": _number(args[2])}
    if fault == "value":  # a printer signal: SIGNAL VALUE, or SIGNAL --words W,W
        if ns.words is not None:
            expect("signal")
            return {"signal": args[0], "words": _words(ns.words)}
        if len(args) != 2:
            raise UsageError(
                "value takes SIGNAL VALUE (printer; or SIGNAL --words W,W) or ROBOT VARIABLE VALUE (fleet)"
            )
        value = _number(args[1])
        return {"signal": args[0], "value": float(value)}
    if fault == "bad-status":
        expect("robot", "variable", "status")
        status = None if args[2].lower() in ("none", "clear", "good") else args[2]
        return {"robot": args[0], "variable": args[1], "status": status}
    # drop, clear, restart, and names the simulator will refuse with the list of its faults
    expect()
    return {}


def read_key(key_file: Path | None) -> str:
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read the key file {key_file}: {exc.strerror}") from None
        if not key:
            raise UsageError(f"the key file {key_file} is empty")
        return key
    key = os.environ.get(KEY_ENV, "")
    if not key:
        raise UsageError(f"give --key-file FILE (printed by `shopfloor simulate --control-port`) or set ${KEY_ENV}")
    return key


def run(ns: argparse.Namespace) -> int:
    # httpx logs every request at INFO; the one line printed below says the same, better.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if not ns.control:
            raise UsageError(f"give --control URL (printed by `shopfloor simulate --control-port`) or set ${URL_ENV}")
        body = request_body(ns.fault, ns.args, ns)
        key = read_key(ns.key_file)
    except UsageError as exc:
        print(f"shopfloor inject: {exc}", file=sys.stderr)
        return 2
    url = f"{ns.control.rstrip('/')}/v1/targets/{ns.target}/faults/{ns.fault}"
    # json.dumps keeps NaN/Infinity (httpx's json= refuses them); the simulator's parser accepts them.
    content = json.dumps(body, allow_nan=True)
    try:
        response = httpx.post(
            url,
            content=content,
            timeout=ns.timeout,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
    except httpx.HTTPError as exc:
        print(f"shopfloor inject: cannot reach the simulator's control API at {ns.control}: {exc}", file=sys.stderr)
        return 1
    try:
        payload = response.json()
    except ValueError:
        payload = {"detail": response.text.strip()}
    if response.is_error:
        print(f"shopfloor inject: refused ({response.status_code}): {payload.get('detail', payload)}", file=sys.stderr)
        return 1
    result = payload.get("result")
    suffix = "" if result is None else f" -> {result}"  # e.g. how many connections were dropped
    print(f"{payload.get('message', 'done')}{suffix}")
    return 0
