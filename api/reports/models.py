"""Indexes that the staff reports need on other domains' tables (reports own no table).

Reports filter by time first: paid invoices by `paid_at`, usage events by `at`. Without these,
a report over a month scans every invoice or every usage event ever recorded.
"""

from __future__ import annotations

from sqlalchemy import Index

from api.delivery.models import UsageEvent

# Usage: WHERE at in [from, to)  GROUP BY partner / licence / article.
ix_usage_event_at = Index("ix_usage_event_at", UsageEvent.__table__.c.at)
