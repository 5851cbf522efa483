"""Imports every module that registers outbox handlers or periodic jobs: importing is registering."""

from api.delivery import jobs as delivery_jobs
from api.invoicing import jobs as invoicing_jobs
from api.licensing import jobs as licensing_jobs
from api.outbox import retention as outbox_retention
from api.partners import notifications as partner_notifications

__all__ = ["delivery_jobs", "invoicing_jobs", "licensing_jobs", "outbox_retention", "partner_notifications"]
