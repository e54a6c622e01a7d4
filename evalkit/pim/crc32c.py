"""CRC-32C (Castagnoli), as TensorFlow uses it in checkpoints, in NumPy.

Hand-written because neither the standard library nor evalkit's dependencies provide CRC-32C
(``zlib.crc32`` uses another polynomial) and it is too small a need for a new dependency.
A plain byte-at-a-time Python loop takes seconds on a 7 MB checkpoint, so long inputs are
split into equal chunks whose CRC registers are advanced together with NumPy; the chunk
results are then chained using the linearity of the CRC over GF(2):
``reg(r0, A) = zeros_operator_len(A)(r0) ^ reg(0, A)``.
"""

from __future__ import annotations

import numpy as np

_POLY = 0x82F63B78  # reflected Castagnoli polynomial
_MASK_DELTA = 0xA282EAD8


def _make_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _make_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _advance_bytes(reg: int, data: bytes | memoryview) -> int:
    table = _TABLE_LIST
    for b in data:
        reg = table[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


def _zeros_operator(length: int) -> list[np.ndarray]:
    """Four 256-entry tables giving the register after ``length`` zero bytes (a linear map)."""
    basis = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    regs = basis.copy()
    for _ in range(length):
        regs = _TABLE[regs & 0xFF] ^ (regs >> np.uint32(8))
    tables = []
    values = np.arange(256, dtype=np.uint32)
    for j in range(4):
        tab = np.zeros(256, dtype=np.uint32)
        for bit in range(8):
            tab ^= np.where((values >> np.uint32(bit)) & 1, regs[8 * j + bit], np.uint32(0)).astype(np.uint32)
        tables.append(tab)
    return tables


def _register(data: bytes | memoryview, reg: int) -> int:
    n = len(data)
    chunks = min(4096, n // 256)
    if chunks < 4:
        return _advance_bytes(reg, data)
    length = n // chunks
    body = np.frombuffer(data, dtype=np.uint8, count=chunks * length).reshape(chunks, length)
    regs = np.zeros(chunks, dtype=np.uint32)
    for i in range(length):
        regs = _TABLE[(regs ^ body[:, i]) & 0xFF] ^ (regs >> np.uint32(8))
    op = _zeros_operator(length)
    for r in regs.tolist():
        reg = (int(op[0][reg & 0xFF]) ^ int(op[1][(reg >> 8) & 0xFF])
               ^ int(op[2][(reg >> 16) & 0xFF]) ^ int(op[3][reg >> 24]) ^ r)
    return _advance_bytes(reg, memoryview(data)[chunks * length:])


def crc32c(data: bytes | memoryview) -> int:
    """The CRC-32C of ``data`` (initial value and final xor 0xFFFFFFFF, as everywhere)."""
    return _register(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | memoryview) -> int:
    """LevelDB/TensorFlow's masked CRC (stored so that CRCs of CRCs stay well distributed)."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF
