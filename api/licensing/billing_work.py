"""The work licensing hands to billing through the outbox: the topics it queues and how long
billing keeps trying. Billing (api.invoicing) registers the handlers for these topics and imports
them from here, so the dependency points one way: invoicing -> licensing.

A charge or a void outlives a long outage: the outbox doubles its wait up to an hour (~68
minutes for the first 12 attempts), then tries hourly, so 12 + 24 * 7 attempts keep the work
alive for a week, past Stripe's own three days of webhook retries. The charge sweep
(invoicing.jobs) catches anything that outlives even that.
"""

BILLING_MAX_ATTEMPTS = 12 + 24 * 7
# Charging a granted licence that is not free (see grants.grant).
CHARGE_TOPIC = "invoicing.charge_licence"
# Voiding the unpaid invoices of a cancelled licence (at the provider, then ours).
VOID_TOPIC = "invoicing.void_licence_invoices"
