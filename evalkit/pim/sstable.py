"""Reading the LevelDB-style sorted table ("SSTable") TensorFlow uses as a checkpoint's
``.index`` file (the tests' writer is ``tests/pim/tf_writer.py``).

Hand-written so that converting the official PIM checkpoints needs no TensorFlow: the format
is small and frozen (TensorFlow's ``core/lib/io/table`` follows LevelDB's ``table_format``).

Layout: data blocks, a meta-index block, an index block, then a 48-byte footer (two varint
block handles ``(offset, size)`` padded to 40 bytes, then the magic number).  A block is a
run of entries ``varint shared, varint non_shared, varint value_len, key suffix, value``
(keys are prefix-compressed against the previous key), then the restart offsets (uint32
each) and their count (uint32), followed on disk by a 5-byte trailer: compression type (0 raw,
1 Snappy) and the masked CRC-32C of block + type byte.  The index block maps, for each data
block, a key >= its last key to the block's handle.
"""

from __future__ import annotations

import struct

from evalkit.errors import WeightsError
from evalkit.pim.crc32c import masked_crc32c

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
NO_COMPRESSION = 0
SNAPPY = 1


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """(value, next position) of the unsigned LEB128 varint at ``pos``."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WeightsError("checkpoint index must hold complete varints, got a truncated one")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WeightsError("checkpoint index varints must fit in 64 bits, got a longer one")


def snappy_decompress(data: bytes | memoryview) -> bytes:
    """Decompress a raw Snappy block (the only compression a TF table may use) with pyarrow.

    A raw block starts with its uncompressed length as a varint; pyarrow needs that length
    up front (and would pad a larger one with garbage), so it is read here and checked.
    """
    import pyarrow as pa

    length, _ = read_varint(data, 0)
    try:
        out = pa.Codec("snappy").decompress(bytes(data), decompressed_size=length, asbytes=True)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise WeightsError(f"snappy block must decompress to {length} bytes; corrupt block "
                           f"({exc})") from exc
    if len(out) != length:
        raise WeightsError(f"snappy block must decompress to {length} bytes, got {len(out)}")
    return out


def _read_block(buf: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if end + 5 > len(buf):
        raise WeightsError(f"checkpoint index block must lie within the file ({len(buf)} bytes), "
                           f"got one ending at {end + 5}")
    kind = buf[end]
    (stored_crc,) = struct.unpack_from("<I", buf, end + 1)
    if masked_crc32c(buf[offset:end + 1]) != stored_crc:
        raise WeightsError(f"checkpoint index block at offset {offset} must match its CRC; "
                           "the file is corrupt")
    raw = buf[offset:end]
    if kind == NO_COMPRESSION:
        return raw
    if kind == SNAPPY:
        return snappy_decompress(raw)
    raise WeightsError(f"checkpoint index block compression must be 0 or 1, got {kind}")


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise WeightsError("checkpoint index blocks must end with a restart count, got a short block")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise WeightsError(f"checkpoint index block restart count must fit the block, got {num_restarts}")
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < limit:
        shared, pos = read_varint(block, pos)
        non_shared, pos = read_varint(block, pos)
        value_len, pos = read_varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise WeightsError("checkpoint index entries must lie within their block; file corrupt")
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos:pos + value_len]))
        pos += value_len
    return entries


def _decode_handle(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = read_varint(buf, pos)
    size, pos = read_varint(buf, pos)
    return offset, size, pos


def read_table(buf: bytes) -> list[tuple[bytes, bytes]]:
    """All ``(key, value)`` pairs of a table file's contents, in stored (sorted) order."""
    if len(buf) < FOOTER_SIZE:
        raise WeightsError(f"a checkpoint index must be at least {FOOTER_SIZE} bytes, got {len(buf)}")
    footer = buf[-FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)
    if magic != TABLE_MAGIC:
        raise WeightsError(f"a checkpoint index must end with the table magic {TABLE_MAGIC:#x}, "
                           f"got {magic:#x} (not a TensorFlow checkpoint .index file?)")
    _, _, pos = _decode_handle(footer)  # meta-index handle: unused by TF bundles
    index_offset, index_size, _ = _decode_handle(footer, pos)
    entries: list[tuple[bytes, bytes]] = []
    for _, handle in _block_entries(_read_block(buf, index_offset, index_size)):
        offset, size, _ = _decode_handle(handle)
        entries.extend(_block_entries(_read_block(buf, offset, size)))
    return entries
