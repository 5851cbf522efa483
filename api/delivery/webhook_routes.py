"""Webhook endpoints: registration, listing and deletion, their deliveries, secret rotation,
re-enabling after `410 Gone`, the staff view of endpoints, and the events themselves in the OpenAPI
`webhooks` section."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Response, status

from api.core.errors import BadCursor, Unauthenticated
from api.core.pagination import DEFAULT_LIMIT
from api.core.problems import error_responses
from api.deps import CurrentPartner, Cursor, Limit, SessionDep, SettingsDep, StaffMayPartners
from api.delivery import errors, service
from api.delivery.schemas import (WEBHOOK_EVENTS, StaffWebhookEndpointPage, StaffWebhookEndpointRead, WebhookDeliveryPage,
                                  WebhookDeliveryRead, WebhookEndpointCreate, WebhookEndpointCreated, WebhookEndpointPage,
                                  WebhookEndpointRead, WebhookEndpointRotated)
from api.staff.errors import RoleRequired

router = APIRouter()
PartnerDesk = StaffMayPartners


# --- webhook endpoints (partner API key) ---------------------------------------------------------

@router.post("/v1/webhook-endpoints", response_model=WebhookEndpointCreated, status_code=status.HTTP_201_CREATED,
             tags=["content"], summary="Register a webhook endpoint",
             description="Corrections and takedowns of articles you license are POSTed here, signed per Standard "
                         "Webhooks. The `secret` is shown only in this response. The URL must reach the public "
                         "internet: one naming, or resolving to, a loopback, private, link-local or reserved address "
                         "is refused (`bad-webhook-url`, its `reason` and `address` say why), and is checked again "
                         "before every delivery.",
             responses=error_responses(errors.BadWebhookUrl))
def create_endpoint(body: WebhookEndpointCreate, partner: CurrentPartner, session: SessionDep,
                    settings: SettingsDep) -> WebhookEndpointCreated:
    endpoint, secret = service.create_endpoint(session, settings, partner_id=partner.id, url=str(body.url),
                                               description=body.description)
    return WebhookEndpointCreated(**WebhookEndpointRead.model_validate(endpoint).model_dump(), secret=secret)


@router.get("/v1/webhook-endpoints", response_model=WebhookEndpointPage, tags=["content"],
            summary="List your webhook endpoints", responses=error_responses(Unauthenticated, BadCursor))
def list_endpoints(partner: CurrentPartner, session: SessionDep, cursor: Cursor = None,
                   limit: Limit = DEFAULT_LIMIT) -> WebhookEndpointPage:
    rows, next_cursor = service.list_endpoints(session, partner_id=partner.id, cursor=cursor, limit=limit)
    return WebhookEndpointPage(items=[WebhookEndpointRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.delete("/v1/webhook-endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["content"],
               summary="Delete a webhook endpoint", responses=error_responses(errors.WebhookEndpointNotFound))
def delete_endpoint(endpoint_id: str, partner: CurrentPartner, session: SessionDep) -> Response:
    service.delete_endpoint(session, endpoint_id=endpoint_id, partner_id=partner.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/webhook-endpoints/{endpoint_id}/deliveries", response_model=WebhookDeliveryPage,
            tags=["content"], summary="Deliveries to an endpoint, with their attempts",
            description="Newest first. A failing delivery is retried on Standard Webhooks' schedule for about three "
                        "days (`status: pending`), then `failed`; `held` while the endpoint is disabled. Each attempt "
                        "shows its HTTP status or error.",
            responses=error_responses(Unauthenticated, errors.WebhookEndpointNotFound, BadCursor))
def list_deliveries(endpoint_id: str, partner: CurrentPartner, session: SessionDep, cursor: Cursor = None,
                    limit: Limit = DEFAULT_LIMIT) -> WebhookDeliveryPage:
    rows, next_cursor = service.list_deliveries(session, endpoint_id=endpoint_id, partner_id=partner.id,
                                                cursor=cursor, limit=limit)
    return WebhookDeliveryPage(items=[WebhookDeliveryRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/v1/webhook-endpoints/{endpoint_id}/rotate-secret", response_model=WebhookEndpointRotated,
             tags=["content"], summary="Rotate an endpoint's signing secret",
             description="Returns a new `secret`, shown only in this response. Until `previous_secret_expires_at` "
                         "(`SYNDICATE_WEBHOOK_SECRET_OVERLAP_HOURS` later, 24 h by default) every delivery carries two "
                         "signatures in `webhook-signature`, space-separated (`v1,<new> v1,<old>`), so you can switch "
                         "your verifier without missing a delivery.",
             responses=error_responses(Unauthenticated, errors.WebhookEndpointNotFound))
def rotate_secret(endpoint_id: str, partner: CurrentPartner, session: SessionDep,
                  settings: SettingsDep) -> WebhookEndpointRotated:
    endpoint, secret = service.rotate_secret(session, settings, endpoint_id=endpoint_id, partner_id=partner.id)
    return WebhookEndpointRotated(**WebhookEndpointRead.model_validate(endpoint).model_dump(exclude={"status"}),
                                  secret=secret)


@router.post("/v1/webhook-endpoints/{endpoint_id}/enable", response_model=WebhookEndpointRead, tags=["content"],
             summary="Enable an endpoint again",
             description="An endpoint that answered `410 Gone` is disabled (`status: disabled`): nothing is sent to it "
                         "and its deliveries are `held`. Enabling it sends the held deliveries. Enabling an enabled "
                         "endpoint changes nothing.",
             responses=error_responses(Unauthenticated, errors.WebhookEndpointNotFound))
def enable_endpoint(endpoint_id: str, partner: CurrentPartner, session: SessionDep) -> WebhookEndpointRead:
    return WebhookEndpointRead.model_validate(service.enable_endpoint(session, endpoint_id=endpoint_id,
                                                                      partner_id=partner.id))


_TEST_DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": "msg_01jd7w3m5q...", "endpoint_id": "whe_01jd7w3m5q...", "event_type": "webhook.test", "status": "pending",
    "payload": {"type": "webhook.test", "timestamp": "2026-11-25T12:00:00Z",
                "data": {"endpoint_id": "whe_01jd7w3m5q...", "message": "A test event you asked for; nothing to do."}},
    "attempts": [], "created_at": "2026-11-25T12:00:00Z", "delivered_at": None}
_RESENT_EXAMPLE = {
    "id": "msg_01jd7w3m5q...", "endpoint_id": "whe_01jd7w3m5q...", "event_type": "article.withdrawn", "status": "pending",
    "payload": {"type": "article.withdrawn", "data": {"article_id": "art_01jd..."}},
    "attempts": [{"at": "2026-11-25T12:00:01Z", "status_code": 500, "error": "HTTP 500", "duration_ms": 12.5,
                  "status": "failed"}],
    "created_at": "2026-11-25T12:00:00Z", "delivered_at": None}


def _accepted(summary: str, example: dict) -> dict:
    return {202: {"content": {"application/json": {"examples": {"queued": {"summary": summary, "value": example}}}}}}


@router.post("/v1/webhook-endpoints/{endpoint_id}/test", response_model=WebhookDeliveryRead, status_code=202,
             tags=["content"], summary="Send a test event to an endpoint",
             description="Queues a `webhook.test` event (`data.endpoint_id`, `data.message`) to this endpoint alone, "
                         "signed and retried like every other delivery, so you can check your verifier. Follow it in "
                         "`GET .../deliveries`. A disabled endpoint is refused (409): enable it first.",
             responses={**_accepted("The ping, queued", _TEST_DELIVERY_EXAMPLE),
                        **error_responses(Unauthenticated, errors.WebhookEndpointNotFound,
                                          errors.WebhookEndpointDisabled)})
def send_test_event(endpoint_id: str, partner: CurrentPartner, session: SessionDep) -> WebhookDeliveryRead:
    return WebhookDeliveryRead.model_validate(service.send_test_event(session, endpoint_id=endpoint_id,
                                                                      partner_id=partner.id))


@router.post("/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend", response_model=WebhookDeliveryRead,
             status_code=202, tags=["content"], summary="Send a delivery again",
             description="Sends a delivery that succeeded or was given up once more, with the same `webhook-id` (so "
                         "you can tell a repeat) and a fresh signature; its earlier attempts stay listed. A delivery "
                         "still being tried, or one to a disabled endpoint, is refused (409).",
             responses={**_accepted("The delivery, queued again", _RESENT_EXAMPLE),
                        **error_responses(Unauthenticated, errors.WebhookEndpointNotFound, errors.WebhookDeliveryNotFound,
                                          errors.WebhookEndpointDisabled, errors.WebhookDeliveryInProgress)})
def resend_delivery(endpoint_id: str, delivery_id: str, partner: CurrentPartner, session: SessionDep) -> WebhookDeliveryRead:
    return WebhookDeliveryRead.model_validate(service.resend_delivery(session, endpoint_id=endpoint_id,
                                                                      delivery_id=delivery_id, partner_id=partner.id))


@router.get("/v1/staff/webhook-endpoints", response_model=StaffWebhookEndpointPage, tags=["staff"],
            summary="List partners' webhook endpoints",
            description="Every partner's endpoints, newest first; `status=disabled` lists those that answered "
                        "`410 Gone` and receive nothing until their partner enables them. Role `licensing`.",
            responses=error_responses(Unauthenticated, RoleRequired, BadCursor))
def staff_list_endpoints(
    session: SessionDep, staff: PartnerDesk,
    status: Annotated[Literal["enabled", "disabled"] | None, Query(description="Only endpoints in this state.")] = None,
    partner_id: Annotated[str | None, Query(max_length=40, description="Only this partner's endpoints.")] = None,
    cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT,
) -> StaffWebhookEndpointPage:
    rows, next_cursor = service.list_all_endpoints(session, status=status, partner_id=partner_id, cursor=cursor,
                                                   limit=limit)
    return StaffWebhookEndpointPage(items=[StaffWebhookEndpointRead.model_validate(r) for r in rows],
                                    next_cursor=next_cursor)


_EVENT_DESCRIPTION = (
    "POSTed as JSON to each of your webhook endpoints, per Standard Webhooks: verify `webhook-signature` (one or, "
    "after a rotation, two space-separated `v1,` HMAC-SHA256 signatures of `{webhook-id}.{webhook-timestamp}.{body}`) "
    "with your `whsec_` secret, and use `webhook-id` to ignore a repeat. Answer 2xx within 15 s. Order events by "
    "`data.version` (and `data.occurred_at`): retries can arrive after a later event. Failed attempts are retried "
    "after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (with jitter); `429`/`503` with `Retry-After` "
    "are not retried sooner than asked; `410 Gone` disables the endpoint until you enable it again.")


def document_events(app: FastAPI) -> None:
    """Each event in the OpenAPI `webhooks` section, with its payload's schema and example."""
    for event in WEBHOOK_EVENTS:
        name = event.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]  # every event's `type` is a Literal

        def receive(body) -> None:  # documentation only: the app never serves it
            """Documents one event."""

        receive.__annotations__ = {"body": event, "return": None}

        app.webhooks.post(name, summary=(event.__doc__ or name).strip().split("\n")[0], description=_EVENT_DESCRIPTION,
                          operation_id=f"webhooks.{name.replace('.', '_')}", tags=["content"],
                          status_code=204)(receive)
