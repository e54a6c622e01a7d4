"""Reading TensorFlow "tensor bundle" checkpoints without TensorFlow (the tests' writer is
``tests/pim/tf_writer.py``).

A checkpoint ``<prefix>`` is ``<prefix>.index`` plus ``<prefix>.data-0000k-of-0000n``.  The
index is a sorted table (:mod:`evalkit.pim.sstable`) whose empty key holds a
``BundleHeaderProto`` (number of shards, endianness, version) and every other key, a variable
name such as ``frontend/cnns/0/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE``, a
``BundleEntryProto``: dtype, shape, shard id, byte offset and size in that shard, and the
masked CRC-32C of the bytes.  Numeric tensors are stored raw, row-major, little-endian.
Scalar string tensors (the ``_CHECKPOINTABLE_OBJECT_GRAPH`` entry, a serialized proto) are
returned as bytes: PIM needs none of them.

Hand-written because TensorFlow is a multi-gigabyte dependency only needed to read ~200 arrays;
the protobuf messages are decoded with a minimal wire-format parser (field numbers from
TensorFlow's ``tensor_bundle.proto``, ``tensor_shape.proto`` and ``types.proto``).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from evalkit.errors import WeightsError
from evalkit.pim.crc32c import masked_crc32c
from evalkit.pim.sstable import read_table, read_varint

#: TensorFlow DataType enum values -> NumPy dtypes (little-endian).
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"),
    5: np.dtype("<i2"), 6: np.dtype("i1"), 9: np.dtype("<i8"), 10: np.dtype("?"),
    17: np.dtype("<u2"), 19: np.dtype("<f2"), 22: np.dtype("<u4"), 23: np.dtype("<u8"),
}
DT_STRING = 7
HEADER_KEY = b""


def _parse_fields(buf: bytes) -> dict[int, list]:
    """Protobuf wire format -> {field number: [values]} (ints, or bytes for length-delimited)."""
    fields: dict[int, list] = {}
    pos = 0
    while pos < len(buf):
        tag, pos = read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 1:
            (value,) = struct.unpack_from("<Q", buf, pos)
            pos += 8
        elif wire == 2:
            n, pos = read_varint(buf, pos)
            value = buf[pos:pos + n]
            pos += n
        elif wire == 5:
            (value,) = struct.unpack_from("<I", buf, pos)
            pos += 4
        else:
            raise WeightsError(f"checkpoint protobuf wire type must be 0, 1, 2 or 5, got {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _first(fields: dict[int, list], number: int, default=0):
    values = fields.get(number)
    return values[-1] if values else default


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    fields = _parse_fields(buf)
    if _first(fields, 3):
        raise WeightsError("checkpoint tensors must have a known shape, got unknown rank")
    return tuple(int(_first(_parse_fields(dim), 1)) for dim in fields.get(2, []))


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _string_crc_bytes(raw: bytes, shape: tuple[int, ...]) -> bytes:
    """The bytes TF's CRC covers for a string tensor: its element lengths as uint32 (not the
    varints stored), the stored length checksum, then the string bytes (checked empirically
    against a checkpoint written by TensorFlow 2.15)."""
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    pos, lengths = 0, []
    for _ in range(count):
        n, pos = read_varint(raw, pos)
        lengths.append(n)
    return struct.pack(f"<{count}I", *lengths) + raw[pos:]


def _decode_scalar_string(name: str, raw: bytes, shape: tuple[int, ...]) -> bytes:
    if shape:
        raise WeightsError(f"{name}: string tensors must be scalars, got shape {shape}")
    n, pos = read_varint(raw, 0)
    return bytes(raw[pos + 4:pos + 4 + n])


def read_bundle(index: bytes, shards: list[bytes], verify: bool = True) -> dict[str, np.ndarray | bytes]:
    """Every tensor of a checkpoint given the bytes of its index and data shards.

    Numeric tensors come back as NumPy arrays (native byte order, writable); scalar string
    tensors as their bytes.  ``verify`` checks each tensor's CRC-32C.

    Raises:
        WeightsError: not a tensor bundle, a missing shard, a tensor outside its shard, a CRC
            mismatch, or a dtype this reader does not know.
    """
    entries = read_table(index)
    if not entries or entries[0][0] != HEADER_KEY:
        raise WeightsError("a checkpoint index must start with the bundle header, got none")
    header = _parse_fields(entries[0][1])
    num_shards = int(_first(header, 1, 1))
    if _first(header, 2) != 0:
        raise WeightsError("checkpoint byte order must be little-endian, got big-endian")
    if num_shards != len(shards):
        raise WeightsError(f"checkpoint must come with its {num_shards} data shard(s), got {len(shards)}")
    tensors: dict[str, np.ndarray | bytes] = {}
    for key, value in entries[1:]:
        name = key.decode("utf-8")
        entry = _parse_fields(value)
        if entry.get(7):
            raise WeightsError(f"{name}: sliced (partitioned) checkpoint variables are not supported")
        dtype_code = int(_first(entry, 1))
        shape = _parse_shape(_first(entry, 2, b""))
        shard = int(_first(entry, 3))
        offset = _int64(int(_first(entry, 4)))
        size = _int64(int(_first(entry, 5)))
        if not 0 <= shard < num_shards:
            raise WeightsError(f"{name}: shard id must be below {num_shards}, got {shard}")
        data = shards[shard]
        if offset < 0 or size < 0 or offset + size > len(data):
            raise WeightsError(f"{name}: bytes {offset}..{offset + size} must lie within its data "
                               f"shard of {len(data)} bytes; the checkpoint is truncated or corrupt")
        raw = data[offset:offset + size]
        checked = _string_crc_bytes(raw, shape) if dtype_code == DT_STRING else raw
        if verify and masked_crc32c(checked) != _first(entry, 6):
            raise WeightsError(f"{name}: stored bytes must match the checkpoint's CRC-32C; "
                               "the checkpoint is corrupt")
        if dtype_code == DT_STRING:
            tensors[name] = _decode_scalar_string(name, raw, shape)
            continue
        if dtype_code not in DTYPES:
            raise WeightsError(f"{name}: dtype code must be one of {sorted(DTYPES)}, got {dtype_code}")
        dtype = DTYPES[dtype_code]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count * dtype.itemsize != size:
            raise WeightsError(f"{name}: {size} stored bytes must equal shape {shape} x "
                               f"{dtype.itemsize} bytes")
        arr = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)
        tensors[name] = arr.astype(dtype.newbyteorder("="), copy=True)
    return tensors


def data_shard_name(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def read_checkpoint(prefix: str | Path, verify: bool = True) -> dict[str, np.ndarray | bytes]:
    """Every tensor of the checkpoint ``<prefix>.index`` / ``<prefix>.data-*`` on disk."""
    prefix = str(prefix)
    index_path = Path(prefix + ".index")
    if not index_path.is_file():
        raise WeightsError(f"{index_path}: no such checkpoint index")
    index = index_path.read_bytes()
    header = _parse_fields(read_table(index)[0][1])
    n = int(_first(header, 1, 1))
    shards = []
    for k in range(n):
        path = Path(data_shard_name(prefix, k, n))
        if not path.is_file():
            raise WeightsError(f"{path}: checkpoint data shard missing")
        shards.append(path.read_bytes())
    return read_bundle(index, shards, verify=verify)


__all__ = ["DTYPES", "DT_STRING", "HEADER_KEY", "data_shard_name", "read_bundle", "read_checkpoint"]
