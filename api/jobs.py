"""Imports every module that registers outbox handlers or periodic jobs: importing is registering."""

from api.delivery import jobs as delivery_jobs
from api.invoicing import jobs as invoicing_jobs
from api.licensing import jobs as licensing_jobs
from api.partners import notifications as partner_notifications
from api.tracking import jobs as tracking_jobs

__all__ = ["delivery_jobs", "invoicing_jobs", "licensing_jobs", "partner_notifications", "tracking_jobs"]
