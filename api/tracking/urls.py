"""One page, one address: the page URL a beacon reports, normalised so that the same page shown
with campaign tags, a fragment or another spelling of its host counts as one page.

`url-normalize` does the RFC 3986 part (scheme and host lower-cased, default ports and dot
segments dropped, percent-encoding made canonical); what is left is policy: the fragment never
reaches a server, tracking parameters name the campaign rather than the page, and `/story/` is
`/story`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from url_normalize import url_normalize

MAX_LENGTH = 1000
HOST = re.compile(r"[a-z0-9._\-\[\]:]+")  # after IDNA encoding; IPv6 literals keep their brackets
UNKNOWN = "unknown"

# Parameters that say how a reader arrived (ad clicks, newsletters, shares), never which page it is.
TRACKING_PARAMETERS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
    "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
    "vero_id", "ref_src", "ref_url", "s_cid", "cmpid", "ocid", "spm",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")


def is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


@lru_cache(maxsize=8192)  # a page is seen by many viewers: its beacon hits repeat one address
def normalise_page_url(raw: str | None) -> str:
    """The page's canonical address, or `unknown` for no address or one that is not http(s)."""
    raw = (raw or "").strip()
    if not raw.lower().startswith(("http://", "https://")):
        return UNKNOWN
    try:
        normalised = url_normalize(raw)
        parts = urlsplit(normalised or "")
    except (ValueError, UnicodeError):
        return UNKNOWN
    host = parts.hostname or ""
    if not host or not HOST.fullmatch(host):
        return UNKNOWN
    # Sorted, so `?a=1&b=2` and `?b=2&a=1` are one page; credentials in the address are never kept.
    kept = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k))
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme, netloc, path, urlencode(kept), ""))[:MAX_LENGTH]
