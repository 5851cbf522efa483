"""Auto-approval: staff-edited rules under which a request is approved the moment it arrives.

A request matches a rule when every condition the rule sets holds; the first enabled matching
rule (oldest first) approves it as the system (`submitted -> in_review -> approved`, audited).

A rule's `max_amounts` bounds what the partner commits to over the whole period, not the quoted
price: a feed's quote is a monthly fee and a usage-billed quote is a price per article, either
of which looks small while the licence is not. Usage billing has no bounded total, so a rule
approves it only when it lists `usage` in `billing_modes` (and then bounds the per-article price).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from api.audit import service as audit
from api.core.db import utcnow
from api.core.months import months_between
from api.core.pagination import keyset_page
from api.licensing import decisions
from api.licensing.errors import AutoApprovalRuleNotFound
from api.licensing.models import AutoApprovalRule, BillingMode, LicenceRequest
from api.licensing.quotes import total_commitment
from api.partners.models import Partner, PartnerStatus

AUTO_APPROVER = audit.Actor.system("auto-approval")


def list_rules(session: Session, *, cursor: str | None = None, limit: int = 50
               ) -> tuple[list[AutoApprovalRule], str | None]:
    """Oldest first: the order in which they are tried."""
    return keyset_page(session, select(AutoApprovalRule), columns=[col(AutoApprovalRule.created_at), col(AutoApprovalRule.id)],
                       kinds=[datetime, str], cursor=cursor, limit=limit)


def enabled_rules(session: Session) -> list[AutoApprovalRule]:
    stmt = (select(AutoApprovalRule).where(AutoApprovalRule.enabled == True)  # noqa: E712
            .order_by(col(AutoApprovalRule.created_at), col(AutoApprovalRule.id)))
    return list(session.exec(stmt).all())


def get_rule(session: Session, rule_id: str) -> AutoApprovalRule:
    rule = session.get(AutoApprovalRule, rule_id)
    if rule is None:
        raise AutoApprovalRuleNotFound(f"No auto-approval rule {rule_id}.")
    return rule


def _snapshot(rule: AutoApprovalRule) -> dict[str, Any]:
    return rule.model_dump(mode="json", exclude={"created_at", "updated_at"})


def create_rule(session: Session, *, values: dict[str, Any], actor: audit.Actor) -> AutoApprovalRule:
    rule = AutoApprovalRule(**normalise(values))
    session.add(rule)
    session.flush()
    audit.record(session, actor=actor, action="auto_approval_rule.created", object_type="auto_approval_rule",
                 object_id=rule.id, after=_snapshot(rule))
    return rule


def update_rule(session: Session, rule_id: str, *, values: dict[str, Any], actor: audit.Actor) -> AutoApprovalRule:
    """Change only the fields given."""
    rule = get_rule(session, rule_id)
    before = _snapshot(rule)
    for name, value in normalise(values).items():
        setattr(rule, name, value)
    rule.updated_at = utcnow()
    session.add(rule)
    session.flush()
    audit.record(session, actor=actor, action="auto_approval_rule.updated", object_type="auto_approval_rule",
                 object_id=rule.id, before=before, after=_snapshot(rule))
    return rule


def delete_rule(session: Session, rule_id: str, *, actor: audit.Actor) -> None:
    rule = get_rule(session, rule_id)
    before = _snapshot(rule)
    session.delete(rule)
    session.flush()
    audit.record(session, actor=actor, action="auto_approval_rule.deleted", object_type="auto_approval_rule",
                 object_id=rule_id, before=before)


_NOT_NULL = ("name", "enabled", "require_verified_partner", "require_standard_terms", "uses", "scopes", "billing_modes",
             "max_amounts")
# Long enough for any period the rate card offers; only caps the month count of a period.
_MONTHS_CAP = 1200


def normalise(values: dict[str, Any]) -> dict[str, Any]:
    # null on a field that cannot be empty means "leave as is"; null max_audience/max_months means "no limit".
    out = {k: v for k, v in values.items() if not (v is None and k in _NOT_NULL)}
    if out.get("max_amounts") is not None:
        out["max_amounts"] = {k.upper(): v for k, v in out["max_amounts"].items()}
    for name in ("uses", "scopes", "billing_modes"):
        if out.get(name) is not None:
            out[name] = [str(v) for v in out[name]]
    return out


def commitment(request: LicenceRequest) -> int | None:
    """The request's total over its period at the quoted price; None when it has no bound (usage)."""
    months = months_between(request.starts_at, request.ends_at, _MONTHS_CAP)
    return total_commitment(BillingMode(request.billing_mode), request.quoted_amount, months)


def rule_matches(rule: AutoApprovalRule, request: LicenceRequest, partner: Partner) -> bool:
    if not rule.enabled:
        return False
    if rule.require_verified_partner and (partner.status != PartnerStatus.active or partner.verified_at is None):
        return False
    if rule.require_standard_terms and (request.notes or request.conditions):
        return False
    if rule.uses and str(request.use) not in rule.uses:
        return False
    if rule.scopes and str(request.scope) not in rule.scopes:
        return False
    mode = str(request.billing_mode)
    total = commitment(request)
    if total is None:
        # Unbounded (usage billing): only a rule that names the mode takes the risk.
        if mode not in rule.billing_modes:
            return False
        compared = request.quoted_amount
    else:
        if rule.billing_modes and mode not in rule.billing_modes:
            return False
        compared = total
    limit = rule.max_amounts.get(request.currency)
    if limit is None or compared > limit:
        return False
    if rule.max_audience is not None and request.audience_size > rule.max_audience:
        return False
    if rule.max_months is not None and months_between(request.starts_at, request.ends_at, rule.max_months) > rule.max_months:
        return False
    return True


def apply(session: Session, request: LicenceRequest, *, partner: Partner) -> AutoApprovalRule | None:
    """Approve `request` at once if an enabled rule matches; return the rule that did."""
    for rule in enabled_rules(session):
        if rule_matches(rule, request, partner):
            decisions.approve(session, request.id, actor=AUTO_APPROVER, rule_id=rule.id)
            return rule
    return None
