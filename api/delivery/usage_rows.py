"""What the usage writer writes, whatever the database: the event, its id, and which fetches are
first fetches (billable candidates). The backends are `metering_sqlite` and `metering_postgres`."""

from __future__ import annotations

import base64
import random
import threading
import time
from dataclasses import dataclass

COLUMNS = "id, licence_id, partner_id, article_id, article_version, format, token_id, billable, at"

_CROCKFORD = str.maketrans("0123456789abcdefghijklmnopqrstuv", "0123456789abcdefghjkmnpqrstvwxyz")
_last_value = 0
_id_lock = threading.Lock()
_PAIRS = ["".join(p) for p in ((a, b) for a in "0123456789abcdefghjkmnpqrstvwxyz" for b in "0123456789abcdefghjkmnpqrstvwxyz")]


@dataclass(frozen=True, slots=True)
class Usage:
    licence_id: str
    partner_id: str
    article_id: str
    article_version: int
    format: str
    token_id: str | None


def usage_ids(count: int) -> list[str]:
    """`count` ids of the same shape and ordering as `api.core.db.new_id("use")` (time-ordered,
    monotonic within the process), cheaply: one random 130-bit value per batch whose low 20 bits
    count the rows, so each further id costs a table lookup (the writer makes thousands a second;
    os.urandom would also release the GIL on every call)."""
    global _last_value
    with _id_lock:
        value = ((int(time.time() * 1000) << 80) | random.getrandbits(80)) >> 20 << 20
        if value <= _last_value:
            value = (_last_value >> 20) + 1 << 20
        _last_value = value + count
    head = "use_" + base64.b32hexencode((value << 6).to_bytes(17, "big"))[:22].decode().lower().translate(_CROCKFORD)
    return [head + _PAIRS[i >> 10] + _PAIRS[i & 1023] for i in range(count)]


def first_fetches(usages: list[Usage], billed: set[tuple[str, str]]) -> tuple[list[bool], set[tuple[str, str]]]:
    """Per usage, whether it may be its (licence, article)'s first fetch: a pair neither `billed`
    (already seen billed by this writer) nor earlier in the batch. Only these try a republication
    row; the database's primary key has the last word. Also returns those pairs."""
    new_pairs: set[tuple[str, str]] = set()
    flags: list[bool] = []
    for u in usages:
        pair = (u.licence_id, u.article_id)
        if pair in billed or pair in new_pairs:
            flags.append(False)
        else:
            new_pairs.add(pair)
            flags.append(True)
    return flags, new_pairs
