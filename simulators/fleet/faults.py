"""Which faults are injected right now (pure bookkeeping, no I/O).

The server asks this object, for every value it is about to publish, whether
the model's value is overridden; it owns no sockets itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asyncua import ua

Key = tuple[str, str]  # (robot id, data-contract field name)


def status_code_from_name(name: str) -> ua.StatusCode:
    """``"BadSensorFailure"`` → its StatusCode; an unknown name is an error, not a silent Good."""
    code = getattr(ua.StatusCodes, name, None)
    if not isinstance(code, int):
        raise ValueError(f"unknown OPC UA status code name {name!r} (e.g. 'BadSensorFailure', 'BadCommunicationError')")
    status = ua.StatusCode(code)  # type: ignore[arg-type]  # asyncua's ua.UInt32 marker type stands for int
    if status.is_good():
        raise ValueError(f"{name!r} is a good status: inject a Bad… or Uncertain… code")
    return status


@dataclass
class FaultState:
    stalled: bool = False
    bad_status: dict[Key, ua.StatusCode] = field(default_factory=dict)
    forced_values: dict[Key, float | int | bool] = field(default_factory=dict)

    def overridden(self, key: Key) -> bool:
        return key in self.bad_status or key in self.forced_values

    def clear(self) -> set[Key]:
        """Forget every fault; return the variables whose model value must be published again."""
        touched = set(self.bad_status) | set(self.forced_values)
        self.stalled = False
        self.bad_status.clear()
        self.forced_values.clear()
        return touched
