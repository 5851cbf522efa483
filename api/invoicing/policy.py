"""How long billing work keeps trying, and the topics of billing's own outbox work. The topics
licensing queues for billing (charging and voiding a licence) are licensing's to name: they are
defined in api.licensing.billing_work (public through licensing's service) and re-exported here
for billing's modules."""

from api.licensing.service import BILLING_MAX_ATTEMPTS, CHARGE_TOPIC, VOID_TOPIC

# Sending a prepared draft invoice to the provider (invoice-now; see invoicing.issuing).
ISSUE_TOPIC = "invoicing.issue_invoice"

__all__ = ["BILLING_MAX_ATTEMPTS", "CHARGE_TOPIC", "ISSUE_TOPIC", "VOID_TOPIC"]
