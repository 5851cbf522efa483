"""The audit trail as the desk reads it: one sentence per entry ("Alice approved the request at
150.00 GBP"), with the object it names linked to its own page. The raw before/after stays beside
it (behind a toggle in the templates), so nothing the log holds is hidden.

Names are resolved for a whole page at once (one query per kind of name), never one per row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.console.labels import label
from api.core.money import format_money
from api.invoicing.models import Invoice
from api.licensing.models import Licence, LicenceRequest
from api.partners.models import Partner
from api.staff.models import StaffUser

# What each kind of object is called in a sentence, and where its page is.
OBJECTS: dict[str, tuple[str, str | None]] = {
    "licence_request": ("the request", "/console/requests/{id}"),
    "licence": ("the licence", "/console/licences/{id}"),
    "partner": ("the partner", "/console/partners/{id}"),
    "invoice": ("the invoice", None),
    "staff_user": ("a staff account", "/console/staff"),
    "rate_card": ("the rate card", "/console/rate-card"),
    "auto_approval_rule": ("an auto-approval rule", "/console/rules"),
    "article": ("an article", None),
    "api_key": ("an API key", None),
    "partner_contact": ("a partner's contact", None),
    "stripe_charge": ("a card payment", None),
    "signing_key": ("a signing key", None),
    "outbox_message": ("an outbox message", "/console/operations/outbox"),
    "subscription": ("a subscription", None),
}

# The verb of an action's last word; `{object}` is the object's noun.
VERBS: dict[str, str] = {
    "submitted": "submitted {object}", "in_review": "put {object} in review", "approved": "approved {object}",
    "rejected": "rejected {object}", "countered": "made a counter-offer on {object}",
    "declined": "declined the counter-offer on {object}", "accepted": "accepted the counter-offer on {object}",
    "awaiting_payment": "sent {object} for payment", "active": "activated {object}", "suspended": "suspended {object}",
    "expired": "recorded that {object} expired", "revoked": "revoked {object}", "cancelled": "cancelled {object}",
    "granted": "granted {object}", "amended": "amended {object}", "quota_granted": "granted extra quota on {object}",
    "amendment_settled": "settled the price difference of an amendment to {object}",
    "created": "created {object}", "updated": "updated {object}", "deleted": "deleted {object}",
    "published": "published {object}", "retired": "retired {object}", "withdrawn": "withdrew {object}",
    "embargo_lifted": "recorded that the embargo on {object} lifted",
    "issued": "issued {object}", "voided": "voided {object}", "void_refused": "could not void {object}",
    "marked_paid": "marked {object} paid", "invoice_now": "invoiced on demand", "held": "held back {object}",
    "retry": "retried {object}", "retry_dead": "revived {object}", "verified": "verified {object}",
}
# Where the money of an entry is the point of the sentence.
PRICED = {"approved", "countered", "granted", "issued", "amended", "amendment_settled", "marked_paid"}
SYSTEM_ACTORS = {"invoicing": "Invoicing", "worker": "The system", "stripe": "Stripe", "autoapproval": "An auto-approval rule"}


@dataclass(frozen=True)
class AuditLine:
    entry: AuditEntry
    who: str
    sentence: str
    href: str | None


def audit_lines(session: Session, entries: Iterable[AuditEntry]) -> list[AuditLine]:
    entries = list(entries)
    staff = _names(session, StaffUser, StaffUser.name, {e.actor_id for e in entries if e.actor_type == "staff"})
    partners = _names(session, Partner, Partner.name,
                      {e.actor_id for e in entries if e.actor_type == "partner"} |
                      {e.object_id for e in entries if e.object_type == "partner"})
    currencies = {**_currencies(session, LicenceRequest, entries, "licence_request"),
                  **_currencies(session, Licence, entries, "licence"), **_currencies(session, Invoice, entries, "invoice")}
    return [_line(e, staff, partners, currencies) for e in entries]


def _line(entry: AuditEntry, staff: dict[str, str], partners: dict[str, str], currencies: dict[str, str]) -> AuditLine:
    if entry.actor_type == "staff":
        who = staff.get(entry.actor_id or "") or ("The system" if ":" in (entry.actor_id or "") else "A former staff member")
    elif entry.actor_type == "partner":
        who = partners.get(entry.actor_id or "", "The partner")
    else:
        who = SYSTEM_ACTORS.get((entry.actor_id or "").split(":")[0], "The system")
    noun, link = OBJECTS.get(entry.object_type, (f"a {label(entry.object_type).lower()}", None))
    if entry.object_type == "partner" and entry.object_id in partners:
        noun = partners[entry.object_id]
    kind, _, word = entry.action.rpartition(".")
    verb = VERBS.get(word)
    text = f"{who} {verb.format(object=noun)}" if verb else f"{who}: {label(entry.action)} ({noun})"
    amount = _amount(entry.after)
    currency = (entry.after or {}).get("currency") or currencies.get(entry.object_id)
    if word in PRICED and amount is not None and currency:
        text += f" at {format_money(amount, currency)}"
    reason = (entry.after or {}).get("reason")
    if isinstance(reason, str) and reason.strip():
        text += f", saying “{reason.strip()[:200]}”"
    return AuditLine(entry=entry, who=who, sentence=text + ".", href=link.format(id=entry.object_id) if link else None)


def _amount(after: dict[str, Any] | None) -> int | None:
    for key in ("amount", "total", "amount_due"):
        value = (after or {}).get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _names(session: Session, model, name_column, ids: set[str | None]) -> dict[str, str]:
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    return {row_id: name for row_id, name in session.exec(select(model.id, name_column).where(col(model.id).in_(wanted)))}


def _currencies(session: Session, model, entries: list[AuditEntry], object_type: str) -> dict[str, str]:
    wanted = sorted({e.object_id for e in entries if e.object_type == object_type})
    if not wanted:
        return {}
    return {row_id: currency for row_id, currency in
            session.exec(select(model.id, model.currency).where(col(model.id).in_(wanted)))}
