"""How a beacon hit counts: bots and prefetches are not views, and one viewer's reloads within the
dedupe window count once. Only a keyed hash of the viewer is kept; the address and agent never are,
and the day's key is random and deleted once the day is over."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from crawlerdetect import CrawlerDetect

REPEAT_WINDOW = timedelta(minutes=30)


@lru_cache(maxsize=4096)
def is_crawler(user_agent: str) -> bool:
    # CrawlerDetect compiles its patterns once per instance; the cache keeps repeated agents cheap.
    return not user_agent or CrawlerDetect(user_agent=user_agent).isCrawler()


def is_prefetch(headers: Mapping[str, str]) -> bool:
    """Speculative loads (link prefetch, prerender) are not someone reading the page."""
    for name in ("sec-purpose", "purpose", "x-purpose", "x-moz"):
        if "prefetch" in headers.get(name, "").lower():
            return True
    # A pixel loaded as an image by a page is `Sec-Fetch-Dest: image`; a browser navigating to the
    # beacon itself (document) or a script fetching it is not a display of the copy.
    dest = headers.get("sec-fetch-dest")
    return dest is not None and dest not in ("image", "empty")


def viewer_key(day_key: bytes, address: str, user_agent: str) -> str:
    """The viewer as an HMAC of address and agent under the day's random key (see `BeaconDayKey`)."""
    return hmac.new(day_key, f"{address}\n{user_agent}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Hit:
    viewer: str | None  # None: not countable (bot or prefetch)
    reason: str | None  # why not: crawler | prefetch


def not_a_view(headers: Mapping[str, str]) -> str | None:
    """Why the hit is no view (`crawler` or `prefetch`), or None when someone may be reading the page."""
    if is_crawler(headers.get("user-agent", "")):
        return "crawler"
    if is_prefetch(headers):
        return "prefetch"
    return None


def classify(headers: Mapping[str, str], address: str, day_key: Callable[[], bytes]) -> Hit:
    """`day_key` is asked for only when the hit is a view, so bots never make or read a key."""
    reason = not_a_view(headers)
    if reason is not None:
        return Hit(None, reason)
    return Hit(viewer_key(day_key(), address, headers.get("user-agent", "")), None)
