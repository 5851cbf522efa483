"""Licensing's public face: the functions other domains (billing, delivery, the console, the
demo) and licensing's own routes call. Import it as `from api.licensing import service as licensing`.

The rules live in the modules named on each line below, split along their seams (pricing,
the rate card, requests, decisions, granting and moving licences, auto-approval); this module
only re-exports what is meant to be used from outside them, so they can be reorganised without
touching their callers. Every function takes the session first and flushes, never commits.
"""

from __future__ import annotations

from api.licensing import errors
from api.licensing.amendments import SETTLE_TOPIC as AMENDMENT_SETTLE_TOPIC
from api.licensing.amendments import WEBHOOK_TOPIC as AMENDED_WEBHOOK_TOPIC
from api.licensing.amendments import (amend, get_amendment, grant_quota, list_amendments, quota_grants,
                                      quota_grants_by_licence)
from api.licensing.autoapproval import create_rule, delete_rule, get_rule, list_rules, update_rule
from api.licensing.billing_work import BILLING_MAX_ATTEMPTS, CHARGE_TOPIC, VOID_TOPIC
from api.licensing.decisions import accept_counter, approve, counter, decline_counter, reject
from api.licensing.errors import LicenceNotFound, LicenceRequestNotFound
from api.licensing.form import describe as describe_form
from api.licensing.form_schema import json_schema as form_json_schema
from api.licensing.grants import (
    activate, expire, get_licence, grant, notify_changed, on_licence_change, suspend,
)
from api.licensing.licences import LICENCE_ORDERS, expire_due, list_licences, revoke
from api.licensing.licences import cancel as cancel_licence
from api.licensing.models import BillingMode, Licence, LicenceRequest, ScopeKind, Use
from api.licensing.previews import dry_run as dry_run_rule
from api.licensing.previews import preview_card as preview_rate_card
from api.licensing.quotes import BILLING_MODES, USE_LABELS, Quote, TermsInput, months_label, quote, use_name
from api.licensing.ratecard import (
    DEFAULT_RATE_CARD, MONEY_FIELDS, RateCard, current_card, current_row as current_rate_card, ensure_default_rate_card,
    get_version as get_rate_card_version, publish as publish_rate_card, seed_default_rate_card,
)
from api.licensing.schemas import LicenceRequestCreate
from api.licensing.lookups import get_request
from api.licensing.requests import QUEUE_ORDERS, licence_ids, list_for_partner as list_requests, list_queue
from api.licensing.requests import submit as submit_request
from api.licensing.states import LicenceState, RequestState, allowed as allowed_transitions

__all__ = [
    # requests, from the partner's side
    "TermsInput", "Quote", "BILLING_MODES", "quote", "submit_request", "get_request", "list_requests",
    "licence_ids", "describe_form", "form_json_schema", "months_label", "USE_LABELS", "use_name",
    # the staff queue and decisions
    "list_queue", "QUEUE_ORDERS", "approve", "reject", "counter", "accept_counter", "decline_counter",
    # licences: granting, reading, and moving them through their states (billing, delivery, jobs)
    "grant", "get_licence", "list_licences", "LICENCE_ORDERS", "activate", "suspend", "expire", "revoke", "cancel_licence",
    "expire_due", "on_licence_change", "notify_changed", "allowed_transitions",
    # changing licences after approval
    "amend", "grant_quota", "list_amendments", "get_amendment", "quota_grants", "quota_grants_by_licence", "AMENDMENT_SETTLE_TOPIC",
    "AMENDED_WEBHOOK_TOPIC",
    # the work licensing queues for billing (billing handles these topics)
    "CHARGE_TOPIC", "VOID_TOPIC", "BILLING_MAX_ATTEMPTS",
    # the rate card
    "MONEY_FIELDS", "current_card", "preview_rate_card", "dry_run_rule",
    "RateCard", "DEFAULT_RATE_CARD", "current_rate_card", "get_rate_card_version", "publish_rate_card",
    "ensure_default_rate_card", "seed_default_rate_card",
    # auto-approval rules
    "list_rules", "get_rule", "create_rule", "update_rule", "delete_rule",
    # data and errors other domains name (the request body schema checks the republish page's form)
    "LicenceRequestCreate", "Licence", "LicenceRequest", "LicenceState", "RequestState", "BillingMode", "ScopeKind", "Use",
    "LicenceNotFound", "LicenceRequestNotFound", "errors",
]
