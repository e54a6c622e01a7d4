"""Reading and writing the LevelDB-style sorted table ("SSTable") TensorFlow uses as a
checkpoint's ``.index`` file.

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
_NO_COMPRESSION = 0
_SNAPPY = 1


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


def snappy_decompress(data: bytes | memoryview) -> bytes:
    """Decompress a raw Snappy block (the only compression a TF table may use).

    Hand-written (a few lines) to avoid a dependency for a case TensorFlow's own checkpoints
    rarely hit: it only compresses index blocks when that saves at least 1/8.
    """
    length, pos = read_varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(bytes(data[pos:pos + extra]), "little")
                pos += extra
            n += 1
            out += bytes(data[pos:pos + n])
            pos += n
            continue
        if kind == 1:
            n = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            n = (tag >> 2) + 1
            offset = int.from_bytes(bytes(data[pos:pos + 2]), "little")
            pos += 2
        else:
            n = (tag >> 2) + 1
            offset = int.from_bytes(bytes(data[pos:pos + 4]), "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise WeightsError(f"snappy block copy offset must be within the output, got {offset}")
        for _ in range(n):  # byte by byte: copies may overlap their own output
            out.append(out[-offset])
    if len(out) != length:
        raise WeightsError(f"snappy block must decompress to {length} bytes, got {len(out)}")
    return bytes(out)


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
    if kind == _NO_COMPRESSION:
        return raw
    if kind == _SNAPPY:
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


def _with_trailer(block: bytes) -> bytes:
    typed = block + bytes([_NO_COMPRESSION])
    return typed + struct.pack("<I", masked_crc32c(typed))


def write_table(entries: list[tuple[bytes, bytes]], block_entries: int = 64) -> bytes:
    """A table file holding ``entries`` (keys must be unique and sorted bytewise)."""
    keys = [k for k, _ in entries]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        raise ValueError("table keys must be unique and sorted, got an unsorted list")
    out = bytearray()
    index = []
    for start in range(0, len(entries), block_entries):
        chunk = entries[start:start + block_entries]
        block = _block_bytes(chunk)
        index.append((chunk[-1][0], write_varint(len(out)) + write_varint(len(block))))
        out += _with_trailer(block)
    meta = _block_bytes([])
    meta_handle = write_varint(len(out)) + write_varint(len(meta))
    out += _with_trailer(meta)
    index_block = _block_bytes(index)
    index_handle = write_varint(len(out)) + write_varint(len(index_block))
    out += _with_trailer(index_block)
    handles = meta_handle + index_handle
    out += handles + bytes(FOOTER_SIZE - 8 - len(handles)) + struct.pack("<Q", TABLE_MAGIC)
    return bytes(out)
