"""Reading one signal over Modbus and decoding it with the project's codec (test helper)."""

from __future__ import annotations

from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from shopfloor.models.plant import ModbusSignal, RegisterKind
from shopfloor.models.registers import decode

_READERS = {
    RegisterKind.HOLDING: "read_holding_registers",
    RegisterKind.INPUT: "read_input_registers",
    RegisterKind.COIL: "read_coils",
    RegisterKind.DISCRETE_INPUT: "read_discrete_inputs",
}


async def read_response(
    client: AsyncModbusTcpClient, table: RegisterKind, address: int, count: int, unit: int = 1
) -> Any:
    return await getattr(client, _READERS[table])(address, count=count, device_id=unit)


async def read_words(client: AsyncModbusTcpClient, signal: ModbusSignal, unit: int = 1) -> list[int]:
    response = await read_response(client, signal.table, signal.address, signal.count, unit)
    assert not response.isError(), f"{signal.name}: {response}"
    if signal.table.is_bit:
        return [int(b) for b in response.bits[: signal.count]]
    return list(response.registers)


def decode_signal(signal: ModbusSignal, words: list[int]) -> float:
    return decode(
        words,
        signal.type,
        scale=signal.scale,
        offset=signal.offset,
        word_order=signal.word_order,
        byte_order=signal.byte_order,
    )


async def read_signal(client: AsyncModbusTcpClient, signal: ModbusSignal, unit: int = 1) -> float:
    return decode_signal(signal, await read_words(client, signal, unit))
