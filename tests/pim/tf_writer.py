"""Writers of TensorFlow checkpoints (tensor bundles and their sorted-table ``.index``), used
only by the tests to produce checkpoints in the official layout for evalkit's readers
(:mod:`evalkit.pim.sstable`, :mod:`evalkit.pim.tf_checkpoint`).  Uncompressed blocks, one data
shard, no prefix compression (every entry a restart point): what the readers must accept."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from evalkit.pim.crc32c import masked_crc32c
from evalkit.pim.sstable import FOOTER_SIZE, NO_COMPRESSION, SNAPPY, TABLE_MAGIC
from evalkit.pim.tf_checkpoint import DT_STRING, DTYPES, HEADER_KEY, _string_crc_bytes, data_shard_name

_DTYPE_CODES = {dt: code for code, dt in DTYPES.items()}


def write_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)




def _block_bytes(entries: list[tuple[bytes, bytes]]) -> bytes:
    """An uncompressed block without prefix compression (every entry a restart point)."""
    body = bytearray()
    restarts = []
    for key, value in entries:
        restarts.append(len(body))
        body += write_varint(0) + write_varint(len(key)) + write_varint(len(value)) + key + value
    if not restarts:
        restarts.append(0)
    for r in restarts:
        body += struct.pack("<I", r)
    body += struct.pack("<I", len(restarts))
    return bytes(body)


def _with_trailer(block: bytes, snappy: bool = False) -> bytes:
    if snappy:  # a raw Snappy block (starts with the uncompressed length as a varint)
        import pyarrow as pa

        block = pa.Codec("snappy").compress(block, asbytes=True)
    typed = block + bytes([SNAPPY if snappy else NO_COMPRESSION])
    return typed + struct.pack("<I", masked_crc32c(typed))


def write_table(entries: list[tuple[bytes, bytes]], block_entries: int = 64, snappy: bool = False) -> bytes:
    """A table file holding ``entries`` (keys must be unique and sorted bytewise)."""
    keys = [k for k, _ in entries]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        raise ValueError("table keys must be unique and sorted, got an unsorted list")
    out = bytearray()
    index = []
    for start in range(0, len(entries), block_entries):
        chunk = entries[start:start + block_entries]
        stored = _with_trailer(_block_bytes(chunk), snappy)
        index.append((chunk[-1][0], write_varint(len(out)) + write_varint(len(stored) - 5)))
        out += stored
    meta = _block_bytes([])
    meta_handle = write_varint(len(out)) + write_varint(len(meta))
    out += _with_trailer(meta)
    index_block = _block_bytes(index)
    index_handle = write_varint(len(out)) + write_varint(len(index_block))
    out += _with_trailer(index_block)
    handles = meta_handle + index_handle
    out += handles + bytes(FOOTER_SIZE - 8 - len(handles)) + struct.pack("<Q", TABLE_MAGIC)
    return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return write_varint(number << 3) + write_varint(value & ((1 << 64) - 1))


def _field_bytes(number: int, value: bytes) -> bytes:
    return write_varint((number << 3) | 2) + write_varint(len(value)) + value


def _string_tensor_bytes(value: bytes) -> bytes:
    """TF's on-disk form of a scalar string: varint length, masked CRC of the length (as a
    uint32), then the bytes."""
    checksum = masked_crc32c(struct.pack("<I", len(value)))
    return write_varint(len(value)) + struct.pack("<I", checksum) + value


def encode_bundle(tensors: dict[str, np.ndarray | bytes]) -> tuple[bytes, bytes]:
    """(index bytes, single data shard bytes) of a checkpoint holding ``tensors``.

    Arrays are stored with their dtype (float32 stays float32); ``bytes`` values become
    scalar string tensors (like ``_CHECKPOINTABLE_OBJECT_GRAPH``).
    """
    data = bytearray()
    entries = []
    for name in sorted(tensors, key=lambda s: s.encode("utf-8")):
        value = tensors[name]
        if isinstance(value, bytes):
            raw, code, shape = _string_tensor_bytes(value), DT_STRING, ()
        else:
            arr = np.asarray(value)
            dtype = arr.dtype.newbyteorder("<") if arr.dtype.byteorder != "|" else arr.dtype
            if dtype not in _DTYPE_CODES:
                raise ValueError(f"{name}: dtype must be one of {sorted(map(str, _DTYPE_CODES))}, "
                                 f"got {arr.dtype}")
            raw = np.ascontiguousarray(arr, dtype=dtype).tobytes()
            code, shape = _DTYPE_CODES[dtype], arr.shape
        shape_proto = b"".join(_field_bytes(2, _field_varint(1, d)) for d in shape)
        crc = masked_crc32c(_string_crc_bytes(raw, ()) if code == DT_STRING else raw)
        proto = (_field_varint(1, code) + _field_bytes(2, shape_proto) + _field_varint(4, len(data))
                 + _field_varint(5, len(raw)) + write_varint((6 << 3) | 5) + struct.pack("<I", crc))
        entries.append((name.encode("utf-8"), proto))
        data += raw
    version = _field_varint(1, 1)
    header = _field_varint(1, 1) + _field_varint(2, 0) + _field_bytes(3, version)
    return write_table([(HEADER_KEY, header)] + entries), bytes(data)


def write_checkpoint(prefix: str | Path, tensors: dict[str, np.ndarray | bytes]) -> list[Path]:
    """Write ``<prefix>.index`` and ``<prefix>.data-00000-of-00001``; returns both paths."""
    index, data = encode_bundle(tensors)
    index_path = Path(str(prefix) + ".index")
    data_path = Path(data_shard_name(str(prefix), 0, 1))
    data_path.write_bytes(data)
    index_path.write_bytes(index)
    return [index_path, data_path]
