"""How long billing work keeps trying. Kept free of imports so any domain that queues billing
work (licensing queues the charge of an approval) can use it."""

# The outbox doubles its wait up to an hour (~68 minutes for the first 12 attempts), then tries
# hourly: 12 + 24 * 7 attempts keep a charge or a Stripe event alive through a week-long outage,
# past Stripe's own three days of webhook retries. The charge sweep (invoicing.jobs) catches
# anything that outlives even that.
BILLING_MAX_ATTEMPTS = 12 + 24 * 7
CHARGE_TOPIC = "invoicing.charge_licence"
# Voiding the unpaid invoices of a cancelled licence (at the provider, then ours).
VOID_TOPIC = "invoicing.void_licence_invoices"
# Sending a prepared draft invoice to the provider (invoice-now; see invoicing.issuing).
ISSUE_TOPIC = "invoicing.issue_invoice"
