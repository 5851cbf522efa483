"""The topics of billing's own outbox work. The ones licensing queues for billing (charging and
voiding a licence) and how long that work keeps trying are licensing's to name
(api.licensing.billing_work, public through licensing's service): billing imports them from there."""

# Sending a prepared draft invoice to the provider (invoice-now; see invoicing.issuing).
ISSUE_TOPIC = "invoicing.issue_invoice"
