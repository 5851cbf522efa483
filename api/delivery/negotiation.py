"""`Accept` negotiation (RFC 9110 §12.5.1) for the content endpoints, cached per distinct header.

Partners' clients send a handful of distinct Accept values, so each is parsed once and the
answer kept: on the hot path negotiation is one dictionary lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

_CACHE_LIMIT = 1024  # distinct Accept values remembered; past that the memo starts afresh


@dataclass(frozen=True, slots=True)
class _Range:
    type: str
    subtype: str
    q: float
    position: int

    def specificity(self, media_type: str) -> int:
        """-1 if this range does not match `media_type`, else how specifically it matches it."""
        kind, _, sub = media_type.partition("/")
        if self.type == "*":
            return 0 if self.subtype == "*" else -1
        if self.type != kind:
            return -1
        if self.subtype == "*":
            return 1
        return 2 if self.subtype == sub else -1


def parse_accept(header: str) -> list[_Range]:
    """The media ranges of an Accept header with their weights; malformed ranges are skipped."""
    ranges = []
    for position, part in enumerate(header.split(",")):
        media, *params = part.split(";")
        kind, slash, sub = media.strip().lower().partition("/")
        if not slash or not kind or not sub or (kind == "*" and sub != "*"):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
                break  # parameters after q are accept-extensions: not part of the range
        if 0.0 <= q <= 1.0:
            ranges.append(_Range(kind, sub, q, position))
    return ranges


class Negotiator:
    """Chooses among `offers` ((media type, name) pairs, in the server's order of preference).

    Each offer takes the weight of the most specific range that matches it (so
    `application/json;q=0, */*` refuses JSON but accepts the rest); the highest weight above
    zero wins, ties going to the more specific match, then to the range listed first, then to
    the server's order. No Accept header (or an empty one) means the first offer.
    """

    def __init__(self, offers: list[tuple[str, str]]) -> None:
        self.offers = offers
        self.default = offers[0][1]
        self._memo: dict[str, str | None] = {}

    def choose(self, accept: str | None) -> str | None:
        """The chosen offer's name, or None when nothing offered is acceptable (answer 406)."""
        if not accept:
            return self.default
        memo = self._memo
        try:
            return memo[accept]
        except KeyError:
            pass
        found = self._choose(accept)
        if len(memo) >= _CACHE_LIMIT:
            memo.clear()
        memo[accept] = found
        return found

    def _choose(self, accept: str) -> str | None:
        ranges = parse_accept(accept)
        if not ranges:
            return None if accept.strip() else self.default
        best: tuple | None = None
        for order, (media_type, name) in enumerate(self.offers):
            matches = [(r.specificity(media_type), r) for r in ranges]
            matches = [(s, r) for s, r in matches if s >= 0]
            if not matches:
                continue
            specificity, chosen = max(matches, key=lambda m: (m[0], -m[1].position))
            if chosen.q <= 0:
                continue
            rank = (-chosen.q, -specificity, chosen.position, order)
            if best is None or rank < best[0]:
                best = (rank, name)
        return best[1] if best else None
