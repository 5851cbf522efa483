"""Changing a licence after approval: amended terms, and time-limited quota grants.

Every change is one `LicenceAmendment` row (what changed, before and after, why, by whom, and the
price difference), an audit entry, a notification to listeners (delivery's caches drop the licence
in every process at once), an e-mail and a `licence.amended` webhook to the partner, and, when the
price moves, an outbox message that invoices or credits the difference (api/invoicing/amendments.py).

How the price difference is reached (one-off licences, the only ones whose fee covers the terms
as a whole): both the terms as they were and the terms as amended are priced with the *current*
rate card (`quotes.price`, the same arithmetic as every quote), and the difference of the two is
what the partner pays or is credited. Pricing both sides on the same card means a rate card
published since the approval, or a negotiated fee, does not leak into the difference: only the
change is priced. The card's duration bands price an extension (or a shortening) by themselves,
so nothing is pro-rated again. Staff may set the figure themselves (a goodwill gesture, a
negotiated price): the computed figure is kept beside it in `pricing_note`.
A feed subscription or usage licence is billed per month or per article from its price: a change
that would move that price, or a subscription's end (the provider's subscription carries it), is
refused rather than dropped; such a change is a new licence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.db import is_postgres, utcnow
from api.core.money import format_money
from api.core.months import months_between
from api.licensing import grants
from api.licensing.billing_work import BILLING_MAX_ATTEMPTS
from api.licensing.errors import AmendmentRefused, LicenceNotAmendable, LicenceNotFound
from api.licensing.models import BillingMode, Licence, LicenceAmendment, QuotaGrant, Use
from api.licensing.quotes import Terms, check_territories, price
from api.licensing.ratecard import current_card
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from api.partners import notifications

SETTLE_TOPIC = "invoicing.settle_amendment"
WEBHOOK_TOPIC = "licence.amended"
AMENDABLE = ("ends_at", "monthly_quota", "territories", "use", "conditions", "max_live_articles")
_LABELS = {"ends_at": "end date", "monthly_quota": "monthly quota", "territories": "territories", "use": "use",
           "conditions": "conditions", "max_live_articles": "articles live at a time"}


def _locked(session: Session, licence_id: str) -> Licence:
    stmt = select(Licence).where(Licence.id == licence_id).execution_options(populate_existing=True)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    licence = session.exec(stmt).first()
    if licence is None:
        raise LicenceNotFound(f"No licence {licence_id}.")
    if licence.state != LicenceState.active:
        raise LicenceNotAmendable(f"Licence {licence.id} is {licence.state}; only an active licence can be amended.",
                                  licence_status=str(licence.state))
    return licence


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise AmendmentRefused("Say why the licence changes: the reason is audited and sent to the partner.")
    return reason


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if isinstance(value, Use) else value)


def _terms_of(licence: Licence, changes: dict[str, Any], max_months: int) -> Terms:
    values = {name: changes.get(name, getattr(licence, name)) for name in ("use", "territories", "ends_at")}
    return Terms(scope=licence.scope, use=Use(values["use"]), territories=list(values["territories"]),
                 audience_size=licence.audience_size, article_ids=list(licence.article_ids), section=licence.section,
                 language=licence.language, translation=licence.translation, starts_at=licence.starts_at,
                 ends_at=values["ends_at"], months=months_between(licence.starts_at, values["ends_at"], max_months),
                 billing_mode=BillingMode(licence.billing_mode))


def _checked_changes(licence: Licence, changes: dict[str, Any], max_months: int) -> dict[str, Any]:
    """Only the terms that really change, each checked; raises for the first fault."""
    unknown = set(changes) - set(AMENDABLE)
    if unknown:
        raise AmendmentRefused(f"These terms cannot be amended: {', '.join(sorted(unknown))}.")
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "territories":
            value = check_territories(list(value or []))
        elif name == "conditions":
            value = [c.strip() for c in value or [] if c and c.strip()]
        elif name == "use":
            value = Use(value)
        elif name == "monthly_quota" and value is not None and value < 1:
            raise AmendmentRefused("A monthly quota is at least 1 delivery; leave it empty for no limit.")
        elif name == "max_live_articles" and value is not None and value < 1:
            raise AmendmentRefused("A cap on live articles is at least 1; leave it empty for no cap.")
        if value != getattr(licence, name):
            checked[name] = value
    if "ends_at" in checked:
        ends_at: datetime = checked["ends_at"]
        if ends_at <= utcnow():
            raise AmendmentRefused(f"The new end {ends_at.isoformat()} is in the past; to stop the licence now, revoke it.")
        if months_between(licence.starts_at, ends_at, max_months) > max_months:
            raise AmendmentRefused(f"The longest period offered is {max_months} months from the licence's start.",
                                   max_months=max_months)
    if not checked:
        raise AmendmentRefused("Nothing changes: every term sent is what the licence already says.")
    return checked


def _price_difference(session: Session, licence: Licence, changes: dict[str, Any]) -> tuple[int, str]:
    """(difference in minor units, how it was reached) — see the module's docstring."""
    if licence.billing_mode == BillingMode.free:
        return 0, "A free licence stays free."
    card, version = current_card(session)
    priced = {"use", "territories", "ends_at"} & set(changes)
    if not priced:
        return 0, "Quota, caps and conditions carry no price on the rate card."
    old = price(card, _terms_of(licence, {}, card.max_months), currency=licence.currency, version=version).amount
    new = price(card, _terms_of(licence, changes, card.max_months), currency=licence.currency, version=version).amount
    if licence.billing_mode != BillingMode.one_off:
        if "ends_at" in changes and licence.billing_mode == BillingMode.subscription:
            raise AmendmentRefused("A feed subscription's end is held by its provider subscription; "
                                   "grant a new licence for a longer or shorter period.")
        if new != old:
            raise AmendmentRefused(
                f"This change moves the {'monthly fee' if licence.billing_mode == BillingMode.subscription else 'per-article price'} "
                f"from {format_money(old, licence.currency)} to {format_money(new, licence.currency)}; "
                "a recurring price is not amended in place: grant a new licence.")
        return 0, "The recurring price is unchanged."
    return new - old, (f"Rate card v{version}: the terms as they were cost {format_money(old, licence.currency)}, "
                       f"as amended {format_money(new, licence.currency)}.")


def amend(session: Session, licence_id: str, *, changes: dict[str, Any], reason: str, actor: Actor,
          price_difference: int | None = None) -> LicenceAmendment:
    """Amend the terms of an active licence, effective at once (see the module's docstring)."""
    reason = _reason(reason)
    licence = _locked(session, licence_id)
    card, _ = current_card(session)
    checked = _checked_changes(licence, changes, card.max_months)
    computed, note = _price_difference(session, licence, checked)
    if price_difference is not None and price_difference != computed:
        note = f"Set by staff to {format_money(price_difference, licence.currency)}; computed: {note}"
    difference = computed if price_difference is None else price_difference
    before = {name: _json(getattr(licence, name)) for name in checked}
    for name, value in checked.items():
        setattr(licence, name, value)
    if licence.billing_mode == BillingMode.one_off:
        licence.amount += difference
    after = {name: _json(value) for name, value in checked.items()}
    amendment = _record(session, licence, kind="terms", before=before, after=after, reason=reason, actor=actor,
                        difference=difference, note=note)
    changed = "; ".join(f"{_LABELS[name]}: {_said(before[name])} → {_said(after[name])}" for name in checked)
    _announce(session, licence, amendment, summary=f"Licence {licence.id} was amended: {changed}.")
    return amendment


def grant_quota(session: Session, licence_id: str, *, extra: int, expires_at: datetime, reason: str, actor: Actor,
                fee: int = 0) -> LicenceAmendment:
    """Raise the licence's monthly quota by `extra` deliveries from now until `expires_at`.

    While a grant runs, every calendar month it touches allows `monthly_quota + extra` deliveries
    (several grants add up); once it ends the licence is back to its own quota. A `fee` (minor
    units) is invoiced like any price difference."""
    reason = _reason(reason)
    if extra < 1:
        raise AmendmentRefused("A quota grant adds at least 1 delivery.")
    if fee < 0:
        raise AmendmentRefused("A grant's fee cannot be negative.")
    now = utcnow()
    if expires_at <= now:
        raise AmendmentRefused(f"The grant would end at {expires_at.isoformat()}, which has passed; choose a later date.")
    licence = _locked(session, licence_id)
    if licence.monthly_quota is None:
        raise AmendmentRefused(f"Licence {licence.id} has no monthly quota to raise: its deliveries are unlimited.")
    expires_at = min(expires_at, licence.ends_at)
    amendment = _record(
        session, licence, kind="quota_grant", before={"monthly_quota": licence.monthly_quota},
        after={"extra": extra, "starts_at": now.isoformat(), "expires_at": expires_at.isoformat()},
        reason=reason, actor=actor, difference=fee, note="The fee staff set for the grant." if fee else None)
    session.add(QuotaGrant(licence_id=licence.id, extra=extra, starts_at=now, expires_at=expires_at,
                           amendment_id=amendment.id))
    session.flush()
    _announce(session, licence, amendment, summary=(
        f"Licence {licence.id} may make {extra} more deliveries a month (on top of {licence.monthly_quota}) "
        f"until {expires_at:%d %B %Y %H:%M} UTC."))
    return amendment


def _said(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if value is None:
        return "no limit"
    if isinstance(value, str) and len(value) > 18 and value[4] == "-" and "T" in value:
        return value[:10]
    return str(value)


def _record(session: Session, licence: Licence, *, kind: str, before: dict[str, Any], after: dict[str, Any],
            reason: str, actor: Actor, difference: int, note: str | None) -> LicenceAmendment:
    amendment = LicenceAmendment(
        licence_id=licence.id, partner_id=licence.partner_id, kind=kind, before=before, after=after, reason=reason,
        currency=licence.currency, price_difference=difference, pricing_note=note,
        created_by=actor.id if actor.type == "staff" else f"{actor.type}:{actor.id}")
    session.add(amendment)
    session.flush()
    audit.record(session, actor=actor, action=f"licence.{'amended' if kind == 'terms' else 'quota_granted'}",
                 object_type="licence", object_id=licence.id, partner_id=licence.partner_id, before=before,
                 after={**after, "reason": reason, "price_difference": difference, "currency": licence.currency,
                        "amendment_id": amendment.id})
    if difference:
        outbox.enqueue(session, SETTLE_TOPIC, {"amendment_id": amendment.id},
                       dedupe_key=f"settle-amendment:{amendment.id}", max_attempts=BILLING_MAX_ATTEMPTS)
    grants.notify_changed(session, licence)  # delivery's caches, in this process and the others
    return amendment


def _announce(session: Session, licence: Licence, amendment: LicenceAmendment, *, summary: str) -> None:
    money = ""
    if amendment.price_difference > 0:
        money = f"\nThe change costs {format_money(amendment.price_difference, amendment.currency)}: an invoice follows."
    elif amendment.price_difference < 0:
        money = f"\nYou are credited {format_money(-amendment.price_difference, amendment.currency)} for the change."
    notifications.notify_partner(session, partner_id=licence.partner_id, subject="A licence was amended",
                                 body=f"{summary}\nReason: {amendment.reason}{money}",
                                 dedupe_key=f"licence.amended:{amendment.id}")
    outbox.enqueue(session, WEBHOOK_TOPIC, {"amendment_id": amendment.id}, dedupe_key=f"licence.amended:{amendment.id}")


def list_amendments(session: Session, licence_id: str) -> list[LicenceAmendment]:
    """Oldest first: the licence's history of changes."""
    return list(session.exec(select(LicenceAmendment).where(LicenceAmendment.licence_id == licence_id)
                             .order_by(col(LicenceAmendment.created_at), col(LicenceAmendment.id))).all())


def get_amendment(session: Session, amendment_id: str) -> LicenceAmendment | None:
    return session.get(LicenceAmendment, amendment_id)


def quota_grants_by_licence(session: Session, licence_ids: list[str], *, live_at: datetime) -> dict[str, list[QuotaGrant]]:
    """`quota_grants` not yet ended at `live_at` for many licences in one query."""
    found: dict[str, list[QuotaGrant]] = {}
    if licence_ids:
        stmt = select(QuotaGrant).where(col(QuotaGrant.licence_id).in_(licence_ids), col(QuotaGrant.expires_at) > live_at)
        for grant in session.exec(stmt.order_by(col(QuotaGrant.expires_at), col(QuotaGrant.id))).all():
            found.setdefault(grant.licence_id, []).append(grant)
    return found


def quota_grants(session: Session, licence_id: str, *, live_at: datetime | None = None) -> list[QuotaGrant]:
    """The licence's grants, soonest ending first; with `live_at`, only those not yet ended then."""
    stmt = select(QuotaGrant).where(QuotaGrant.licence_id == licence_id)
    if live_at is not None:
        stmt = stmt.where(QuotaGrant.expires_at > live_at)
    return list(session.exec(stmt.order_by(col(QuotaGrant.expires_at), col(QuotaGrant.id))).all())
