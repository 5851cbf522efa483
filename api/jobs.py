"""Imports every module that registers outbox handlers or periodic jobs."""

import importlib

for _module in (
    "api.partners.notifications",
    "api.licensing.jobs",
    "api.invoicing.jobs",
    "api.delivery.jobs",
):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:  # a domain without jobs yet
        if exc.name != _module:
            raise
