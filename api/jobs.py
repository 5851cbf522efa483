"""Imports every module that registers outbox handlers or periodic jobs: importing is registering."""

from api.catalogue import jobs as catalogue_jobs
from api.core import jobs as core_jobs
from api.delivery import jobs as delivery_jobs
from api.invoicing import jobs as invoicing_jobs
from api.licensing import jobs as licensing_jobs
from api.outbox import email
from api.outbox import retention as outbox_retention
from api.tracking import jobs as tracking_jobs

__all__ = ["catalogue_jobs", "core_jobs", "delivery_jobs", "invoicing_jobs", "licensing_jobs", "email", "outbox_retention", "tracking_jobs"]
