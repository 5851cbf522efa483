"""Words for codes: what the console shows instead of enum values (`in_review` -> "In review")."""

from __future__ import annotations

from api.licensing.service import USE_LABELS

LABELS: dict[str, str] = {
    # licence and request states
    "submitted": "Submitted", "in_review": "In review", "approved": "Approved", "rejected": "Rejected",
    "countered": "Counter-offered", "declined": "Declined", "awaiting_payment": "Awaiting payment",
    "active": "Active", "suspended": "Suspended", "expired": "Expired", "revoked": "Revoked", "cancelled": "Cancelled",
    # billing modes
    "free": "Free", "one_off": "One-off fee", "subscription": "Monthly subscription", "usage": "Per article used",
    # scopes
    "article": "One article", "bundle": "Bundle of articles", "section_feed": "Section feed", "catalogue": "Whole catalogue",
    # uses: the request form's own words
    **{str(code): text for code, text in USE_LABELS.items()},
    # invoice providers
    "ledger": "Bank transfer", "stripe": "Stripe",
    # amendments
    "terms": "Terms amended", "quota_grant": "Quota grant",
    "ends_at": "End date", "monthly_quota": "Monthly quota", "territories": "Territories", "use": "Use",
    "conditions": "Conditions", "max_live_articles": "Articles live at a time", "extra": "Extra deliveries a month", "starts_at": "From", "expires_at": "Until",
}


def label(code: object) -> str:
    """The label of a code, or the code made readable (`some_code` -> "Some code")."""
    text = str(code if code is not None else "")
    return LABELS.get(text) or text.replace("_", " ").capitalize()
