"""Delivery HTTP API: licence tokens, JWKS, licensed content, feeds and beacons (webhook endpoints:
webhook_routes.py; a partner's usage and copies: partner_routes.py).

`GET /v1/content/articles/{id}` is answered by the ASGI fast path (fastpath.py) installed in
front of the app; the route below documents it and serves the same implementation as a fallback.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sqlmodel import Session

from api.audit.service import Actor
from api.core.db import make_engine, read_only, session_scope, utcnow
from api.core.errors import SyndicateError, Unauthenticated, ValidationFailed
from api.core.pagination import DEFAULT_LIMIT, Page
from api.core.problems import error_responses
from api.core.times import UTCTime
from api.deps import CurrentPartner, Cursor, Limit, SessionDep, SettingsDep, StaffMaySigningKeys
from api.delivery import errors, partner_routes, render, service, versions, webhook_routes
from api.delivery.fastpath import ContentFastPath
from api.delivery.feeds import serve_feed
from api.delivery.keys import jwks as published_keys
from api.delivery.longpoll import MAX_WAIT_SECONDS, ChangeNotifier
from api.delivery.runtime import DeliveryRuntime, Outcome
from api.delivery.feeds import FEED_TYPES
from api.delivery.schemas import (NINJS_EXAMPLE, ArticleVersionList, TOKEN_CREATE_EXAMPLES, TOKEN_PAGE_EXAMPLE, ContentArticle, FeedPage, Jwks,
                                  SigningKeyRead, TokenCreate, TokenInfo, TokenRead)
from api.licensing.service import LicenceNotFound
from api.tracking import beacons, service as tracking, still_live
from api.tracking.beacon_buffer import BeaconBuffer, PendingHit
from api.tracking.urls import normalise_page_url
from api.staff.errors import ReauthenticationRequired, RoleRequired

router = APIRouter()

_licence_bearer = HTTPBearer(auto_error=False, scheme_name="LicenceToken",
                             description="A licence token from `POST /v1/licences/{id}/tokens`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_licence_bearer)]
TokenQuery = Annotated[str | None, Query(description="The licence token, for clients that cannot send headers.")]

TOKEN_ERRORS = (errors.InvalidToken, errors.TokenRevoked, errors.LicenceNotActive, errors.RateLimited)
# What any read of one licensed article can answer, before its own problems.
ARTICLE_ERRORS = (*TOKEN_ERRORS, errors.NotCovered, errors.ContentArticleNotFound, errors.ContentWithdrawn)
JWKS_CACHE_CONTROL = "public, no-cache"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _runtime(request: Request) -> DeliveryRuntime:
    return request.app.state.delivery


def _header(description: str, kind: str = "string") -> dict:
    return {"description": description, "schema": {"type": kind}}


VALIDATORS = {
    "ETag": _header("The representation's tag: send it back as `If-None-Match` to revalidate (304, not metered)."),
    "Last-Modified": _header("When the article last changed; `If-Modified-Since` works too."),
}
CHANGE_CURSOR_HEADER = _header("The page's `change_cursor`: where to resume following changes.")
RATE_LIMIT_HEADERS = {
    "Retry-After": _header("Seconds until a retry can succeed.", "integer"),
    "RateLimit-Limit": _header("Requests (per token) or deliveries (per licence, a month) allowed in the window.", "integer"),
    "RateLimit-Remaining": _header("What is left of it.", "integer"),
    "RateLimit-Reset": _header("Seconds until the window resets.", "integer"),
    "RateLimit-Policy": _header("The limit and its window in seconds, e.g. `600;w=60`."),
}

# On a 200 under a licence with a monthly quota: the quota after this delivery, the same numbers as
# `GET /v1/partners/me/entitlements` (both come from api.delivery.quotas).
QUOTA_HEADERS = {name: {**header, "description": "Licences with a monthly quota: " + header["description"][0].lower()
                        + header["description"][1:]}
                 for name, header in RATE_LIMIT_HEADERS.items() if name != "Retry-After"}


def _with_headers(responses: dict, **by_status: dict) -> dict:
    for code, headers in by_status.items():
        responses.setdefault(int(code.removeprefix("s")), {}).setdefault("headers", {}).update(headers)
    return responses


def _revalidated_responses(content: dict, *problems: type[SyndicateError], s200: dict,
                           s304: dict = VALIDATORS) -> dict:
    """`responses=` of a metered, revalidatable GET (a rendition, the feed): 200 in `content`'s media
    types, 304 when the copy is still fresh, its `problems`, and the headers of 200, 304 and 429."""
    return _with_headers({200: {"content": content}, 304: {"description": "Not modified"}, **error_responses(*problems)},
                         s200=s200, s304=s304, s429=RATE_LIMIT_HEADERS)


def _response(outcome: Outcome) -> Response:
    response = Response(content=outcome.body, status_code=outcome.status)
    response.raw_headers = list(outcome.headers)
    return response


# --- tokens (partner API key) --------------------------------------------------------------------

@router.post("/v1/licences/{licence_id}/tokens", response_model=TokenRead, status_code=status.HTTP_201_CREATED,
             tags=["licences"], summary="Mint a licence token",
             description="A JWT (ES256, `kid` header) for one of your active licences; it never outlives the licence.",
             responses=error_responses(Unauthenticated, LicenceNotFound, errors.CannotMintToken, ValidationFailed))
def mint_token(licence_id: str, partner: CurrentPartner, session: SessionDep, settings: SettingsDep,
               body: Annotated[TokenCreate | None, Body(openapi_examples=TOKEN_CREATE_EXAMPLES)] = None) -> TokenRead:
    raw, row, licence = service.mint_token(session, settings, licence_id=licence_id, partner_id=partner.id,
                                           minutes=body.expires_in_minutes if body else None)
    return TokenRead(token=raw, jti=row.jti, kid=row.kid, licence_id=licence.id, scope=str(licence.scope),
                     expires_at=row.expires_at)


@router.get("/v1/licences/{licence_id}/tokens", response_model=Page[TokenInfo], tags=["licences"],
            summary="List a licence's tokens",
            responses={200: {"content": {"application/json": {"example": TOKEN_PAGE_EXAMPLE}}},
                       **error_responses(Unauthenticated, LicenceNotFound, ValidationFailed)})
def list_tokens(licence_id: str, partner: CurrentPartner, session: SessionDep, cursor: Cursor = None,
                limit: Limit = DEFAULT_LIMIT) -> Page[TokenInfo]:
    rows, next_cursor = service.list_tokens(session, licence_id=licence_id, partner_id=partner.id, cursor=cursor, limit=limit)
    return Page[TokenInfo](items=[TokenInfo.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.delete("/v1/licences/{licence_id}/tokens/{jti}", status_code=status.HTTP_204_NO_CONTENT, tags=["licences"],
               summary="Revoke a licence token", description="Takes effect at once, in every API process.",
               responses=error_responses(Unauthenticated, LicenceNotFound, errors.TokenNotFound))
def revoke_token(licence_id: str, jti: str, partner: CurrentPartner, session: SessionDep) -> Response:
    service.revoke_token(session, licence_id=licence_id, partner_id=partner.id, jti=jti)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/.well-known/jwks.json", response_model=Jwks, tags=["content"],
            summary="Public keys that verify licence tokens",
            description="The keys that verify now; a retired key leaves at once. `Cache-Control: no-cache`: a cache "
                        "must revalidate, so it never keeps a retired key alive.",
            responses={200: {"headers": {"Cache-Control": _header("`public, no-cache`.")}}})
def jwks(session: SessionDep, response: Response) -> Jwks:
    response.headers["Cache-Control"] = JWKS_CACHE_CONTROL
    return Jwks(**published_keys(session))


@router.post("/v1/staff/signing-keys/{kid}/retire", response_model=SigningKeyRead, tags=["staff"],
             summary="Retire a signing key now",
             description="For a leaked or unwanted key: every API process refuses its tokens within a second and the "
                         "JWKS drops it; retiring the key that signs starts a new one. Role `admin`; audited. "
                         "Also `syndicate keys retire KID`.",
             responses=error_responses(Unauthenticated, RoleRequired, ReauthenticationRequired,
                                       errors.SigningKeyNotFound))
def retire_signing_key(kid: str, admin: StaffMaySigningKeys, session: SessionDep,
                       settings: SettingsDep) -> SigningKeyRead:
    return SigningKeyRead.model_validate(service.retire_key(session, settings, kid=kid, actor=Actor("staff", admin.id)))


# --- content (licence token) ---------------------------------------------------------------------

_CONTENT_EXAMPLES = {
    render.FORMATS["ninjs"]: {"schema": {"type": "object", "description": f"IPTC ninjs 3.1 ({render.NINJS_SCHEMA})"},
                              "example": NINJS_EXAMPLE},
    "text/html": {"schema": {"type": "string", "description": "Embeddable HTML fragment with attribution"}},
}


def _format_query(formats):
    names = list(formats)
    # A plain string, not an enum FastAPI would check: an unknown format is 406 Not Acceptable (the
    # server cannot produce it), the same answer the fast path gives, not a 422.
    return Query(description=f"Overrides Accept: one of {', '.join(names)}; anything else is 406.",
                 json_schema_extra={"anyOf": [{"type": "string", "enum": names}, {"type": "null"}]},
                 examples=[names[1]])


@router.get(
    "/v1/content/articles/{article_id}", response_model=ContentArticle, tags=["content"],
    summary="Fetch a licensed article",
    description="The licensed rendition with attribution, as JSON (default), IPTC ninjs (`format=ninjs` or "
                "`Accept: application/vnd.iptc.ninjs+json`) or an HTML fragment (`format=html` or `Accept: text/html`). "
                "Every 200 is metered before it is sent; send `If-None-Match` to revalidate for free.",
    responses=_revalidated_responses(
        _CONTENT_EXAMPLES, *ARTICLE_ERRORS, errors.FormatNotAcceptable, errors.QuotaExceeded, errors.LiveCapReached,
        errors.UsageNotRecorded, s200={**VALIDATORS, **QUOTA_HEADERS}),
)
async def content_article(
    request: Request, article_id: str, credentials: BearerDep, token: TokenQuery = None,
    format: Annotated[str | None, _format_query(render.FORMATS)] = None,
    territory: Annotated[str | None, Query(description="ISO country where the copy will appear.")] = None,
    if_none_match: Annotated[str | None, Header()] = None, if_modified_since: Annotated[str | None, Header()] = None,
) -> Response:
    outcome = await _runtime(request).serve_article(
        raw_token=credentials.credentials if credentials else token, article_id=article_id, fmt=format,
        accept=request.headers.get("accept"), territory=territory, if_none_match=if_none_match,
        if_modified_since=if_modified_since)
    return _response(outcome)


@router.get(
    "/v1/content/articles/{article_id}/versions", response_model=ArticleVersionList, tags=["content"],
    summary="Every version of a licensed article",
    description="Each version, oldest first: its number, time, what it was (the original, an update, a correction "
                "with its note) and where to fetch it rendered under your licence. Not metered.",
    responses=error_responses(*ARTICLE_ERRORS),
)
async def list_article_versions(request: Request, article_id: str, credentials: BearerDep,
                                token: TokenQuery = None) -> Response:
    return _response(await versions.list_versions(
        _runtime(request), raw_token=credentials.credentials if credentials else token, article_id=article_id))


@router.get(
    "/v1/content/articles/{article_id}/versions/{number}", response_model=ContentArticle, tags=["content"],
    summary="One version of a licensed article",
    description="The version as it was (its headline, body and time), rendered under your licence in the article's "
                "formats (`format` or Accept: JSON, ninjs, HTML) with the licence's attribution. The standfirst, byline "
                "and pictures are the article's current ones. Metered like a fetch of the article.",
    responses=_revalidated_responses(
        _CONTENT_EXAMPLES, *ARTICLE_ERRORS, errors.ContentVersionNotFound, errors.FormatNotAcceptable,
        errors.QuotaExceeded, errors.UsageNotRecorded, ValidationFailed, s200=VALIDATORS),
)
async def get_article_version(
    request: Request, article_id: str, number: Annotated[int, Path(ge=1, le=1_000_000)], credentials: BearerDep,
    token: TokenQuery = None, format: Annotated[str | None, _format_query(render.FORMATS)] = None,
    territory: Annotated[str | None, Query(description="ISO country where the copy will appear.")] = None,
    if_none_match: Annotated[str | None, Header()] = None, if_modified_since: Annotated[str | None, Header()] = None,
) -> Response:
    return _response(await versions.serve_version(
        _runtime(request), raw_token=credentials.credentials if credentials else token, article_id=article_id,
        number=number, fmt=format, accept=request.headers.get("accept"), territory=territory,
        if_none_match=if_none_match, if_modified_since=if_modified_since))


@router.get(
    "/v1/content/feed", response_model=FeedPage, tags=["content"], summary="What the licence covers (sync or Atom/RSS)",
    description="JSON: a keyset-paginated listing (oldest change first) with `updated_since` for sync; withdrawn "
                "articles appear with `status: withdrawn`. Atom/RSS (`format` or Accept): the licensed bodies with "
                "attribution, each entry metered; a page is served whole or refused (429) if its entries would "
                "exceed the licence's quota. Withdrawn articles appear in Atom as RFC 6721 `at:deleted-entry` "
                "tombstones, and in RSS as an item with the same `guid`, titled `Withdrawn: ...`, in category "
                "`withdrawn`, without a body. The `Link: rel=\"next\"` URL keeps `format`, `limit` and `updated_since` "
                "(add `token` again if you pass it in the query).\n\n"
                "**Sync that never misses: `change_cursor`.** `updated_at` is stamped when a change is made, not when "
                "it commits, so `updated_since` can miss a change that commits late with an older timestamp: ask "
                "with an overlap (a few minutes before the newest `updated_at` you saw) and expect repeats. The "
                "change cursor has no such gap: every page carries `change_cursor` (also the "
                "`Syndicate-Change-Cursor` header, and `data.change_cursor` on article webhooks); send it back as "
                "`change_cursor` and the listing is the changes (created, updated, corrected, withdrawn, "
                "embargo_lifted) committed after it that the licence covers, in commit order, each exactly once, "
                "with its `version`, `change` and `change_cursor`. Changes to an article under embargo are not "
                "listed; when its embargo ends, an `embargo_lifted` change (a new version, same content) is, "
                "within seconds. `change_cursor=0` starts from the first change. After a snapshot "
                "sync (without `change_cursor`), follow changes from the `change_cursor` of any of its pages: it is "
                "the one read by its first page.\n\n"
                "**Long-poll: `wait`** (seconds, at most 30): when there is nothing to list, hold the request until "
                "something the licence covers changes, then answer with it; if nothing does, answer `304 Not "
                "Modified` when the request carried `change_cursor` or `If-None-Match`, else an empty page.",
    responses=_revalidated_responses(
        {"application/atom+xml": {"schema": {"type": "string"}}, "application/rss+xml": {"schema": {"type": "string"}}},
        *TOKEN_ERRORS, errors.FormatNotAcceptable, errors.QuotaExceeded, errors.LiveCapReached,
        errors.UsageNotRecorded, ValidationFailed,
        s200={**VALIDATORS, **QUOTA_HEADERS, "Link": _header('`<next page URL>; rel="next"` while there are more pages.'),
              "Syndicate-Change-Cursor": CHANGE_CURSOR_HEADER},
        s304={**VALIDATORS, "Syndicate-Change-Cursor": CHANGE_CURSOR_HEADER}),
)
async def content_feed(
    request: Request, credentials: BearerDep, token: TokenQuery = None,
    format: Annotated[str | None, _format_query(FEED_TYPES)] = None,
    updated_since: Annotated[UTCTime | None, Query(description="Only articles changed after this instant.")] = None,
    cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT,
    change_cursor: Annotated[str | None, Query(
        max_length=19, pattern=r"^[0-9]+$", examples=["1042"],
        description="List the changes committed after this one, in commit order: from a page's `change_cursor` or "
                    "a webhook's `data.change_cursor` (0: from the first change). Not with `cursor` or `updated_since`.")] = None,
    wait: Annotated[int | None, Query(ge=1, le=MAX_WAIT_SECONDS, examples=[15], description=(
        "Long-poll: hold an empty answer up to this many seconds (at most 30) for a change the licence covers."))] = None,
    if_none_match: Annotated[str | None, Header()] = None, if_modified_since: Annotated[str | None, Header()] = None,
) -> Response:
    outcome = await serve_feed(
        _runtime(request), raw_token=credentials.credentials if credentials else token, fmt=format,
        accept=request.headers.get("accept"), updated_since=updated_since, cursor=cursor, limit=limit,
        if_none_match=if_none_match, if_modified_since=if_modified_since, change_cursor=change_cursor, wait=wait,
        notifier=request.app.state.change_notifier)
    return _response(outcome)


async def _kill(runtime: DeliveryRuntime, *, licence_id: str, article_id: str, now) -> still_live.Kill | None:
    """Whether the copy was killed, from the runtime's cached views (kept fresh on every change);
    a view not cached yet is loaded off the event loop."""
    licence, article = runtime.licences.get(licence_id), runtime.articles.get(article_id)
    if licence is None or article is None:
        return await runtime.in_thread(_load_kill, runtime, licence_id, article_id, now)
    return still_live.kill_of(licence_state=licence.state, licence_ends_at=licence.ends_at,
                              article_status=article.status, now=now)


def _load_kill(runtime: DeliveryRuntime, licence_id: str, article_id: str, now) -> still_live.Kill | None:
    with Session(runtime.reader) as session:
        return service.copy_kill(session, runtime, licence_id=licence_id, article_id=article_id, now=now)


def _day_key(engine, day) -> bytes:
    with session_scope(engine) as session:
        return tracking.day_key(session, day)


@router.get("/v1/content/beacon/{signed}.gif", tags=["content"], summary="Usage beacon (1x1 GIF)",
            description="Embedded by the attribution block; records the page (`url`, else Referer) showing the copy. "
                        "Every request is a raw hit; bots and crawlers, prefetches and one viewer's reloads "
                        "within 30 minutes are not counted as views. Never cacheable.",
            response_class=Response, responses={200: {"content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}}}, **error_responses(errors.BadBeacon)})
async def beacon(request: Request, signed: str,
                 url: Annotated[str | None, Query(max_length=1000, description="The page displaying the copy.")] = None) -> Response:
    # On the event loop, no session: everything it needs is in memory (the day's key, the cached
    # licence and article views) but on a day's first view or a cache miss, read in a thread.
    runtime = _runtime(request)
    ids = render.parse_beacon(runtime.publisher, signed)
    if ids is None:
        raise errors.BadBeacon("This beacon URL is not one we issued; copy the attribution block again.")
    now = utcnow()
    address = request.client.host if request.client else ""
    viewer = None
    if beacons.not_a_view(request.headers) is None:  # bots and prefetches never make or read a day key
        key = tracking.known_day_key(now.date()) or await runtime.in_thread(_day_key, request.app.state.engine, now.date())
        viewer = beacons.viewer_key(key, address, request.headers.get("user-agent", ""))
    page = normalise_page_url(url or request.headers.get("referer"))
    kill = await _kill(runtime, licence_id=ids[0], article_id=ids[1], now=now)
    # Counted within ~100 ms, in one transaction with the other hits of the moment (beacon_buffer.py).
    request.app.state.beacons.add(PendingHit(licence_id=ids[0], article_id=ids[1], page_url=page, viewer=viewer,
                                             kill=kill, at=now))
    return Response(PIXEL, media_type="image/gif", headers={"cache-control": "no-store, max-age=0", "pragma": "no-cache"})


router.include_router(webhook_routes.router)
router.include_router(partner_routes.router)


# --- wiring --------------------------------------------------------------------------------------

# The poller and the usage writer use the first; loads on a cache miss, in the default executor's
# threads (at most 32), the second.
CONTENT_POOL_SIZE, CONTENT_POOL_OVERFLOW = 2, 4
CONTENT_READER_POOL_SIZE, CONTENT_READER_POOL_OVERFLOW = 8, 32


def install(app: FastAPI) -> None:
    """Put the content fast path in front of the app (see `SyndicateApp.front`) and run the
    delivery runtime with it."""
    settings = app.state.settings
    # Its own pool, not the JSON API's: a flood of API requests holding every API connection must not
    # make a content request's cache miss (run in the event loop's default executor) wait behind it.
    runtime = DeliveryRuntime(
        settings, make_engine(settings.database_url, pool_size=CONTENT_POOL_SIZE, max_overflow=CONTENT_POOL_OVERFLOW),
        reader=read_only(make_engine(settings.database_url, pool_size=CONTENT_READER_POOL_SIZE,
                                     max_overflow=CONTENT_READER_POOL_OVERFLOW)))
    app.state.delivery = runtime
    # Its own connection: a flood of API requests holding the API's pool must not hold up counting.
    beacon_hits = app.state.beacons = BeaconBuffer(make_engine(settings.database_url, pool_size=1, max_overflow=1))
    notifier = app.state.change_notifier = ChangeNotifier(runtime.engine)
    webhook_routes.document_events(app)
    app.front = ContentFastPath(runtime, notifier)  # type: ignore[attr-defined]  # FastAPI declares no such attribute; the ASGI wrapper reads it

    async def start(_app: FastAPI) -> None:
        runtime.start()
        beacon_hits.start()
        await notifier.start()

    async def stop(_app: FastAPI) -> None:
        await notifier.stop()
        await asyncio.to_thread(beacon_hits.stop)  # counts the hits still buffered
        beacon_hits.engine.dispose()
        await runtime.stop()
        runtime.engine.dispose()
        runtime.reader.dispose()

    async def preload() -> None:
        runtime.start_preload()

    app.state.startup_hooks.append(start)
    app.state.after_listening_hooks.append(preload)
    app.state.shutdown_hooks.append(stop)
