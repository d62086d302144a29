"""Read-your-writes tokens: the Kafka offsets an accepted POST reached, per partition.

A token reads ``v1.3:1042,5:77``: partition 3 up to offset 1042, partition 5 up to 77. A lookup
that passes it back waits until the worker owning the store has applied its partition's offset.
"""

from __future__ import annotations

PREFIX = "v1."


class BadToken(ValueError):
    pass


def encode(offsets: dict[int, int]) -> str:
    return PREFIX + ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))


def decode(token: str) -> dict[int, int]:
    if not token.startswith(PREFIX):
        raise BadToken("token must start with 'v1.'")
    out: dict[int, int] = {}
    body = token[len(PREFIX) :]
    for part in filter(None, body.split(",")):
        try:
            p, o = part.split(":")
            out[int(p)] = max(out.get(int(p), -1), int(o))
        except ValueError:
            raise BadToken(f"bad token part {part!r}: expected PARTITION:OFFSET") from None
    return out


def merge(offsets: dict[int, int], partition: int, offset: int) -> None:
    if offset > offsets.get(partition, -1):
        offsets[partition] = offset


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default (Java, aiokafka, librdkafka murmur2) partition for a keyed message."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def murmur2(data: bytes) -> int:
    """The murmur2 hash Kafka's Java client uses for keys (signed 32-bit result)."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    idx = length & ~3
    if extra >= 3:
        h ^= data[idx + 2] << 16
    if extra >= 2:
        h ^= data[idx + 1] << 8
    if extra >= 1:
        h ^= data[idx]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h
