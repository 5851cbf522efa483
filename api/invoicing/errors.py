"""The invoicing domain's problem types: each names what went wrong and what to do about it."""

from __future__ import annotations

from api.core.errors import Conflict, Invalid, NotFound, ServiceUnavailable, SyndicateError


class NothingToInvoice(Conflict):
    """There is no unbilled usage before the cut-off, so no invoice was made; nothing needs doing."""

    slug = "nothing-to-invoice"
    title = "There is no unbilled usage to invoice"


class BadCutoff(Invalid):
    """The invoice-now cut-off is missing its time zone, lies in the future, or names neither a partner nor a licence;
    `detail` says which.
    """

    slug = "bad-cutoff"
    title = "The cut-off instant is not valid"


class PeriodNotEnded(Conflict):
    """The billing period has not ended yet, so it cannot be invoiced; wait until it ends, or use invoice-now for usage
    so far.
    """

    slug = "billing-period-not-ended"
    title = "The billing period has not ended yet"


class InvoiceNotFound(NotFound):
    """No invoice with that id (or not on your account); list the invoices to find it."""

    slug = "invoice-not-found"
    title = "No such invoice"


class InvoiceNotPayable(Conflict):
    """The invoice cannot be marked paid by hand: it is collected by the payment provider, or it is not open (void or
    uncollectible).
    """

    slug = "invoice-not-payable"
    title = "This invoice cannot be marked paid"


class BadPeriod(Invalid):
    """The billing period is not a month; give it as YYYY-MM, e.g. 2026-11."""

    slug = "bad-period"
    title = "The billing period is not valid"


class WebhookSignatureInvalid(SyndicateError):
    """The billing webhook's signature does not verify; check the endpoint's signing secret matches
    SYNDICATE_STRIPE_WEBHOOK_SECRET and that the body reaches us unmodified.
    """

    slug = "bad-webhook-signature"
    title = "The webhook signature did not verify"
    status = 400


class WebhooksNotConfigured(ServiceUnavailable):
    """This deployment takes no payment-provider webhooks (it bills through the local ledger, or no webhook secret is
    set); configure the provider first.
    """

    slug = "billing-not-configured"
    title = "Stripe webhooks are not configured"


class InvoiceLineNotFound(NotFound):
    """No line with that id on any of your invoices; take the line ids from `GET /v1/invoices/{id}`."""

    slug = "invoice-line-not-found"
    title = "No such invoice line"
