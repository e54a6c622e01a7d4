"""The TensorFlow tensor-bundle reader/writer, table format, CRC-32C and Snappy."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
from tf_writer import encode_bundle, write_checkpoint, write_table, write_varint

from evalkit.errors import WeightsError
from evalkit.pim.crc32c import _advance_bytes, crc32c, masked_crc32c
from evalkit.pim.sstable import read_table, snappy_decompress
from evalkit.pim.tf_checkpoint import read_bundle, read_checkpoint


def test_crc32c_known_vectors():
    # RFC 3720 (iSCSI) B.4 test vectors and the classic check value.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E


@pytest.mark.parametrize("n", [0, 1, 255, 1024, 70001])
def test_crc32c_chunked_path_equals_bytewise(n):
    data = os.urandom(n)
    assert crc32c(data) == _advance_bytes(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    c = crc32c(data)
    assert masked_crc32c(data) == (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_table_round_trip_over_several_blocks():
    entries = [(f"key/{i:04d}".encode(), os.urandom(i % 7)) for i in range(300)]
    assert read_table(write_table(entries, block_entries=16)) == entries


def test_table_with_snappy_compressed_blocks():
    entries = [(f"frontend/cnns/{i:03d}".encode(), bytes(20) + os.urandom(3)) for i in range(100)]
    assert read_table(write_table(entries, block_entries=16, snappy=True)) == entries


def test_table_rejects_bad_magic_and_corrupt_block():
    buf = bytearray(write_table([(b"a", b"1"), (b"b", b"2")]))
    with pytest.raises(WeightsError, match="magic"):
        read_table(bytes(buf[:-1]) + b"\x00")
    buf[2] ^= 0xFF
    with pytest.raises(WeightsError, match="CRC"):
        read_table(bytes(buf))


def test_snappy_literal_and_overlapping_copy():
    # "abcd" literal, then copy-2 of length 8 at offset 4 (overlapping) -> "abcdabcdabcd".
    stream = write_varint(12) + bytes([3 << 2]) + b"abcd" + bytes([((8 - 1) << 2) | 2]) + struct.pack("<H", 4)
    assert snappy_decompress(stream) == b"abcdabcdabcd"
    # copy-1: length 4..11 in 3 bits, offset in 11 bits.
    stream = write_varint(7) + bytes([2 << 2]) + b"xyz" + bytes([((4 - 4) << 2) | 1, 3])
    assert snappy_decompress(stream) == b"xyzxyzx"
    with pytest.raises(WeightsError, match="decompress to"):
        snappy_decompress(write_varint(9) + bytes([3 << 2]) + b"abcd")


def test_bundle_round_trip_dtypes_shapes_and_strings(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "a/kernel/.ATTRIBUTES/VARIABLE_VALUE": rng.standard_normal((5, 5, 3, 4)).astype(np.float32),
        "a/bias/.ATTRIBUTES/VARIABLE_VALUE": rng.standard_normal(4).astype(np.float32),
        "b/double": rng.standard_normal((2, 3)),
        "c/int": np.arange(6, dtype=np.int64).reshape(3, 2),
        "d/scalar": np.float32(1.5),
        "_CHECKPOINTABLE_OBJECT_GRAPH": b"\x0a\x03abc graph bytes",
    }
    write_checkpoint(tmp_path / "weights", tensors)
    back = read_checkpoint(tmp_path / "weights")
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        if isinstance(v, bytes):
            assert back[k] == v
        else:
            assert back[k].dtype == np.asarray(v).dtype and back[k].shape == np.shape(v)
            np.testing.assert_array_equal(back[k], v)


def test_bundle_detects_corrupt_data_and_missing_shards(tmp_path):
    index, data = encode_bundle({"x": np.arange(10, dtype=np.float32)})
    bad = bytearray(data)
    bad[5] ^= 1
    with pytest.raises(WeightsError, match="CRC-32C"):
        read_bundle(index, [bytes(bad)])
    with pytest.raises(WeightsError, match="within its data"):
        read_bundle(index, [data[:8]])
    with pytest.raises(WeightsError, match="data shard"):
        read_bundle(index, [])
    with pytest.raises(WeightsError, match="no such checkpoint"):
        read_checkpoint(tmp_path / "nothing")
