"""A plain pymodbus TCP server serving one printer's register map, with faults, for poller tests.

Built from the plant model with ``models.registers.encode`` (the same codec
the simulator uses), on 127.0.0.1 and a port the OS picks. It counts every
request it receives (function code, address, count) and can be told to:

* answer requests at given (function code, address) with an exception code,
* stall (receive requests but send nothing),
* drop every open connection,
* serve arbitrary words for a signal (garbage), or a new value.

Faults are applied with pymodbus's own trace hooks on a real server, so the
poller sees real Modbus TCP frames, real exception responses and real
closed sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from shopfloor.collectors.modbus.plan import FUNCTION_CODES
from shopfloor.models.plant import ModbusSignal, Printer, RegisterKind
from shopfloor.models.registers import DataType, encode

TABLE_SIZE = 256  # addresses 0..255 exist in every table; beyond that the server answers "illegal address"


def encode_signal(signal: ModbusSignal, value: float) -> list[int]:
    return encode(
        value,
        signal.type,
        scale=signal.scale,
        offset=signal.offset,
        word_order=signal.word_order,
        byte_order=signal.byte_order,
    )


def default_values(printer: Printer) -> dict[str, float]:
    """A distinct, in-range engineering value per signal (exactly representable after scaling)."""
    values = {}
    for i, s in enumerate(printer.signals):
        if s.type is DataType.BOOL:
            values[s.name] = float(i % 2)
        else:
            low = s.min if s.min is not None else 0.0
            values[s.name] = low + (i + 3) * abs(s.scale)
    return values


@dataclass
class TestPlc:
    printer: Printer
    values: dict[str, float] = field(default_factory=dict)
    requests: list[tuple[int, int, int]] = field(default_factory=list)  # (function code, address, count)
    exceptions: dict[tuple[int, int], int] = field(default_factory=dict)  # (fc, address) -> exception code
    stalled: bool = False
    _server: ModbusTcpServer | None = None
    _last_request: tuple[int, int] | None = None

    __test__ = False  # not a pytest test class

    async def start(self) -> TestPlc:
        self.values = default_values(self.printer) | self.values
        tables: dict[RegisterKind, list[int]] = {kind: [0] * TABLE_SIZE for kind in RegisterKind}
        for signal in self.printer.signals:
            words = encode_signal(signal, self.values[signal.name])
            tables[signal.table][signal.address : signal.end_address] = words

        def bits(kind: RegisterKind) -> list[SimData]:
            return [SimData(0, values=[bool(v) for v in tables[kind]], datatype=SimType.BITS)]

        def regs(kind: RegisterKind) -> list[SimData]:
            return [SimData(0, values=tables[kind], datatype=SimType.REGISTERS)]

        device = SimDevice(
            id=self.printer.modbus.unit_id,
            simdata=(
                bits(RegisterKind.COIL),
                bits(RegisterKind.DISCRETE_INPUT),
                regs(RegisterKind.HOLDING),
                regs(RegisterKind.INPUT),
            ),
        )
        self._server = ModbusTcpServer(
            device, address=("127.0.0.1", 0), trace_pdu=self._trace_pdu, trace_packet=self._trace_packet
        )
        await self._server.serve_forever(background=True)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.transport is not None
        return int(self._server.transport.sockets[0].getsockname()[1])  # type: ignore[attr-defined]  # a listening pymodbus transport is an asyncio.Server

    @property
    def endpoint_printer(self) -> Printer:
        """The printer with its endpoint pointed at this server."""
        modbus = self.printer.modbus.model_copy(update={"host": "127.0.0.1", "port": self.port})
        return self.printer.model_copy(update={"modbus": modbus})

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    def drop_connections(self) -> int:
        assert self._server is not None
        connections = list(self._server.active_connections.values())
        for connection in connections:
            connection.close()
        return len(connections)

    async def set_words(self, name: str, words: list[int]) -> None:
        """Serve raw words for a signal (garbage, NaN …)."""
        assert self._server is not None
        signal = self.printer.signal(name)
        fc = FUNCTION_CODES[signal.table]
        payload: list[int] | list[bool] = [bool(w) for w in words] if signal.table.is_bit else words
        await self._server.async_setValues(self.printer.modbus.unit_id, fc, signal.address, payload)

    async def set_value(self, name: str, value: float) -> None:
        self.values[name] = value
        await self.set_words(name, encode_signal(self.printer.signal(name), value))

    def requests_since(self, start: int) -> list[tuple[int, int, int]]:
        return self.requests[start:]

    # -------------------------------------------------------------- hooks

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            address, count = int(getattr(pdu, "address", 0)), int(getattr(pdu, "count", 0))
            self.requests.append((pdu.function_code, address, count))
            self._last_request = (pdu.function_code, address)
            return pdu
        if self._last_request in self.exceptions:
            return ExceptionResponse(
                self._last_request[0],
                self.exceptions[self._last_request],
                device_id=pdu.dev_id,
                transaction=pdu.transaction_id,
            )
        return pdu

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        # A stalled device reads requests and never answers.
        return b"" if sending and self.stalled else data
