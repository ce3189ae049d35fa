"""The odds watcher's frame reader: RFC 6455 server frames however the bytes are cut."""

from __future__ import annotations

import pytest

from scenarios.wsframes import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    FrameError,
    FrameReader,
)


def frame(payload: bytes, opcode: int = OP_TEXT, fin: bool = True, mask: bytes = b"") -> bytes:
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + payload


def test_frames_come_out_whole_however_the_bytes_arrive() -> None:
    small, mid, big = b"x" * 5, b"m" * 300, b"b" * 70_000
    stream = frame(small) + frame(mid, OP_BINARY) + frame(big) + frame(b"", OP_PING)
    for cut in (1, 2, 3, 7, 126, 4096, len(stream)):
        reader = FrameReader()
        out = []
        for i in range(0, len(stream), cut):
            out += reader.feed(stream[i : i + cut])
        assert out == [(OP_TEXT, small), (OP_BINARY, mid), (OP_TEXT, big), (OP_PING, b"")]
        assert reader.buffer == bytearray()


def test_fragments_are_joined_and_control_frames_may_come_between() -> None:
    reader = FrameReader()
    out = reader.feed(
        frame(b"he", fin=False)
        + frame(b"ping", OP_PING)
        + frame(b"ll", opcode=0, fin=False)
        + frame(b"o", opcode=0)
        + frame(b"\x03\xe8", OP_CLOSE)
    )
    assert out == [(OP_PING, b"ping"), (OP_TEXT, b"hello"), (OP_CLOSE, b"\x03\xe8")]


def test_a_masked_frame_is_unmasked() -> None:
    assert FrameReader().feed(frame(b"odds", mask=b"\x01\x02\x03\x04")) == [(OP_TEXT, b"odds")]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xc1\x00", "reserved bits"),
        (b"\x83\x00", "unknown data opcode 3"),
        (b"\x8b\x00", "unknown control opcode 11"),
        (frame(b"x", opcode=0), "continuation frame without"),
        (frame(b"a", fin=False) + frame(b"b"), "new message began"),
        (frame(b"p" * 126, OP_PING), "at most 125"),
        (frame(b"x" * 2000), "over 1000"),
    ],
)
def test_protocol_breaks_and_oversized_frames_are_errors(data: bytes, why: str) -> None:
    with pytest.raises(FrameError, match=why):
        FrameReader(max_message=1000).feed(data)


def test_an_oversized_message_in_small_fragments_is_an_error() -> None:
    reader = FrameReader(max_message=1000)
    with pytest.raises(FrameError, match="a message over 1000 bytes"):
        reader.feed(
            b"".join(frame(b"y" * 300, opcode=0 if i else OP_TEXT, fin=False) for i in range(4))
        )
