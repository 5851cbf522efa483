"""A Stripe-shaped HTTP server for tests: the real SDK talks to it over real HTTP.

It answers the routes our Stripe backend uses with current-shape objects taken from Stripe's own
fixtures (standards/stripe/fixtures3.json): customers (list by e-mail; a negative `balance` is a
credit applied at finalization, as Stripe does), prices by lookup key, invoices (list by
customer, draft, finalize, void; delete a draft), invoice items (list by invoice, delete from a draft), Checkout
sessions on a price (and expiring them), subscriptions, customer balance transactions (credits), charges, disputes and invoice payments (list by payment
intent). It records every request, and honours Idempotency-Key as Stripe promises: the same key
with the same parameters replays the first response; the same key with other parameters is a 400
`idempotency_error`; `forget_idempotency_keys()` is what 24 hours do. It is a double of the network, not of the
SDK: serialisation, headers, retries and error mapping all run for real.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.conftest import STANDARDS

FIXTURES: dict[str, Any] = json.loads((STANDARDS / "stripe" / "fixtures3.json").read_text())["resources"]


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]  # flat, as sent: {"metadata[syndicate_partner_id]": "ptn_..."}
    idempotency_key: str | None
    status: int = 0


@dataclass
class Fault:
    method: str
    pattern: str
    status: int
    times: int
    error_type: str = "api_error"
    skip: int = 0  # let this many matching requests through first


@dataclass
class State:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    idempotency: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    # (method, pattern, reached, release, arrivals, how many arrivals set `reached`)
    stalls: list[tuple[str, str, threading.Event, threading.Event, Any, int]] = field(default_factory=list)


def nested(flat: dict[str, str]) -> dict[str, Any]:
    """Stripe's form encoding back into objects: a[b][0][c]=x -> {"a": {"b": [{"c": "x"}]}}."""
    root: dict[str, Any] = {}
    for key, value in flat.items():
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: Any = value if last else ([] if parts[i + 1].isdigit() else {})
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None or last:
                    node[index] = nxt
                node = node[index]
            else:
                if part not in node or last:
                    node[part] = nxt
                node = node[part]
    return root


class StripeDouble:
    def __init__(self) -> None:
        self.state = State()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.port = 0
        self.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """(Re)start serving on the same port, with the state kept: the end of an outage."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Take the server down: the next SDK call gets a connection error (an outage)."""
        self._server.shutdown()
        self._server.server_close()

    def forget_idempotency_keys(self) -> None:
        """What Stripe does after 24 hours: a repeated key is new again."""
        self.state.idempotency.clear()

    # helpers for tests -----------------------------------------------------------------------

    def fail(self, method: str, pattern: str, *, status: int = 500, times: int = 1,
             error_type: str = "api_error", skip: int = 0) -> None:
        """Answer matching requests with an error (not saved under their idempotency key, like a
        request that never reached Stripe's API code)."""
        self.state.faults.append(Fault(method, pattern, status, times, error_type, skip))

    def stall(self, method: str, pattern: str, *, waiting: int = 1) -> tuple[threading.Event, threading.Event]:
        """Hold matching requests until released: a provider that hangs. Returns (reached, release):
        `reached` is set once `waiting` of them are held; set `release` to let them through."""
        reached, release = threading.Event(), threading.Event()
        self.state.stalls.append((method, pattern, reached, release, itertools.count(1), waiting))
        return reached, release

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.state.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.state.objects.values() if o.get("object") == kind]

    def update(self, object_id: str, **fields: Any) -> dict[str, Any]:
        self.state.objects[object_id].update(fields)
        return self.state.objects[object_id]

    # the server ----------------------------------------------------------------------------

    def _new(self, kind: str, prefix: str, **fields: Any) -> dict[str, Any]:
        obj = copy.deepcopy(FIXTURES[kind])
        obj.update(id=f"{prefix}_test{next(self._ids):06d}", object=kind, created=int(time.time()), livemode=False,
                   **fields)
        self.state.objects[obj["id"]] = obj
        return obj

    def _list(self, items: list[dict[str, Any]], url: str) -> dict[str, Any]:
        return {"object": "list", "data": items, "has_more": False, "url": url}

    def route(self, method: str, path: str, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        objs = self.state.objects
        meta = p.get("metadata") or {}
        if (method, path) == ("GET", "/v1/customers"):
            return 200, self._list([o for o in self.of_kind("customer")
                                    if "email" not in p or o.get("email") == p["email"]], path)
        if (method, path) == ("POST", "/v1/customers"):
            return 200, self._new("customer", "cus", email=p.get("email"), name=p.get("name"), metadata=meta)
        if (method, path) == ("GET", "/v1/prices"):
            keys = list((p.get("lookup_keys") or []))
            return 200, self._list([o for o in self.of_kind("price") if o.get("lookup_key") in keys], path)
        if (method, path) == ("POST", "/v1/prices"):
            recurring = p.get("recurring")
            return 200, self._new("price", "price", lookup_key=p.get("lookup_key"), currency=p["currency"],
                                  unit_amount=int(p["unit_amount"]), metadata=meta, product="prod_test",
                                  type="recurring" if recurring else "one_time",
                                  recurring={**FIXTURES["price"]["recurring"], **recurring} if recurring else None)
        if (method, path) == ("POST", "/v1/invoices"):
            return 200, self._new(
                "invoice", "in", customer=p["customer"], currency=p["currency"], status="draft", metadata=meta,
                collection_method=p.get("collection_method", "charge_automatically"), amount_due=0, amount_paid=0,
                amount_remaining=0, subtotal=0, total=0, number=None, hosted_invoice_url=None, parent=None,
                auto_advance=p.get("auto_advance") == "true", starting_balance=0, ending_balance=None,
                lines={"object": "list", "data": [], "has_more": False, "url": "/v1/invoices/x/lines"},
                due_date=int(time.time()) + 86400 * int(p.get("days_until_due", 0)) if p.get("days_until_due") else None)
        if (method, path) == ("POST", "/v1/invoiceitems"):
            amount = int(p["amount"])
            item = self._new("invoiceitem", "ii", customer=p["customer"], invoice=p.get("invoice"), amount=amount,
                             currency=p["currency"], description=p.get("description"), metadata=meta, parent=None)
            invoice = objs.get(p.get("invoice") or "")
            if invoice is not None:
                if invoice["status"] != "draft":
                    return 400, _error("invalid_request_error", f"Invoice {invoice['id']} is not a draft.")
                invoice["lines"]["data"].append({"id": f"il_{item['id']}", "amount": amount, "currency": p["currency"],
                                                 "description": p.get("description"), "object": "line_item",
                                                 "metadata": meta})
                for key in ("amount_due", "amount_remaining", "subtotal", "total"):
                    invoice[key] += amount
            return 200, item
        if (m := re.fullmatch(r"/v1/invoices/(in_\w+)/add_lines", path)) and method == "POST":
            invoice = objs[m[1]]
            if invoice["status"] != "draft":
                return 400, _error("invalid_request_error", f"Invoice {m[1]} is not a draft.")
            for line in p["lines"]:  # a line with an amount becomes an invoice item on the invoice, as at Stripe
                amount = int(line["amount"])
                item = self._new("invoiceitem", "ii", customer=invoice["customer"], invoice=m[1], amount=amount,
                                 currency=invoice["currency"], description=line.get("description"),
                                 metadata=line.get("metadata") or {}, parent=None)
                invoice["lines"]["data"].append({"id": f"il_{item['id']}", "amount": amount,
                                                 "currency": invoice["currency"], "description": line.get("description"),
                                                 "object": "line_item", "metadata": line.get("metadata") or {}})
                for key in ("amount_due", "amount_remaining", "subtotal", "total"):
                    invoice[key] += amount
            return 200, invoice
        if (method, path) == ("GET", "/v1/invoiceitems"):
            return 200, self._list([o for o in self.of_kind("invoiceitem")
                                    if "invoice" not in p or o.get("invoice") == p["invoice"]], path)
        if (m := re.fullmatch(r"/v1/invoiceitems/(ii_\w+)", path)) and method == "DELETE":
            item = objs.pop(m[1])
            invoice = objs.get(item.get("invoice") or "")
            if invoice is not None:
                if invoice["status"] != "draft":
                    return 400, _error("invalid_request_error", f"Invoice {invoice['id']} is not a draft.")
                invoice["lines"]["data"] = [li for li in invoice["lines"]["data"] if li["id"] != f"il_{m[1]}"]
                for key in ("amount_due", "amount_remaining", "subtotal", "total"):
                    invoice[key] -= item["amount"]
            return 200, {"id": m[1], "object": "invoiceitem", "deleted": True}
        if (m := re.fullmatch(r"/v1/customers/(cus_\w+)/balance_transactions", path)) and method == "POST":
            customer = objs[m[1]]
            amount = int(p["amount"])
            customer["balance"] = int(customer.get("balance") or 0) + amount
            return 200, self._new("customer_balance_transaction", "cbtxn", customer=m[1], amount=amount,
                                  currency=p["currency"], description=p.get("description"), metadata=meta,
                                  ending_balance=customer["balance"], type="adjustment", invoice=None)
        if m := re.fullmatch(r"/v1/invoices/(in_\w+)/finalize", path):
            invoice = objs[m[1]]
            if invoice["status"] != "draft":
                return 400, _error("invalid_request_error", f"Invoice {m[1]} is already finalized.")
            # Stripe applies the customer's credit balance when the invoice is finalized.
            customer = objs.get(invoice["customer"]) or {}
            balance = int(customer.get("balance") or 0)
            applied = min(-balance, invoice["total"]) if balance < 0 else 0
            if customer:
                customer["balance"] = balance + applied
            invoice.update(status="open", number=f"TEST-{m[1][-6:]}", starting_balance=balance,
                           ending_balance=balance + applied, amount_due=invoice["total"] - applied,
                           amount_remaining=invoice["total"] - applied,
                           auto_advance=p.get("auto_advance", "false") == "true",
                           hosted_invoice_url=f"https://invoice.stripe.test/i/{m[1]}")
            return 200, invoice
        if m := re.fullmatch(r"/v1/invoices/(in_\w+)/void", path):
            invoice = objs[m[1]]
            if invoice["status"] not in ("open", "uncollectible"):
                return 400, _error("invalid_request_error", f"Invoice {m[1]} is {invoice['status']}; it cannot be voided.")
            invoice.update(status="void", amount_remaining=0)
            return 200, invoice
        if (m := re.fullmatch(r"/v1/invoices/(in_\w+)", path)) and method == "DELETE":
            if objs[m[1]]["status"] != "draft":
                return 400, _error("invalid_request_error", "Only draft invoices can be deleted.")
            objs.pop(m[1])
            return 200, {"id": m[1], "object": "invoice", "deleted": True}
        if m := re.fullmatch(r"/v1/checkout/sessions/(cs_\w+)/expire", path):
            session = objs[m[1]]
            if session["status"] != "open":
                return 400, _error("invalid_request_error", f"Checkout session {m[1]} is not open.")
            session.update(status="expired", url=None)
            return 200, session
        if m := re.fullmatch(r"/v1/(invoices|checkout/sessions|customers|subscriptions|charges|disputes)/([\w]+)", path):
            if method == "GET" and m[2] in objs:
                return 200, objs[m[2]]
        if (method, path) == ("GET", "/v1/invoices"):
            return 200, self._list([o for o in self.of_kind("invoice")
                                    if "customer" not in p or o.get("customer") == p["customer"]], path)
        if (method, path) == ("GET", "/v1/invoice_payments"):
            wanted = (p.get("payment") or {}).get("payment_intent")
            return 200, self._list([o for o in self.of_kind("invoice_payment")
                                    if (o.get("payment") or {}).get("payment_intent") == wanted], path)
        if (method, path) == ("POST", "/v1/checkout/sessions"):
            item = p["line_items"][0]
            if "price" in item:
                price = objs[item["price"]]
                unit, currency = int(price["unit_amount"]), price["currency"]
            else:
                unit, currency = int(item["price_data"]["unit_amount"]), item["price_data"]["currency"]
            total = unit * int(item.get("quantity", 1))
            return 200, self._new("checkout.session", "cs", customer=p.get("customer"), metadata=meta,
                                  client_reference_id=p.get("client_reference_id"), mode="payment", status="open",
                                  payment_status="unpaid", amount_total=total, amount_subtotal=total, invoice=None,
                                  invoice_creation=p.get("invoice_creation"),
                                  currency=currency, url=f"https://checkout.stripe.test/c/pay/{next(self._ids)}",
                                  success_url=p.get("success_url"), cancel_url=p.get("cancel_url"))
        if (method, path) == ("POST", "/v1/subscriptions"):
            price = objs[p["items"][0]["price"]]
            return 200, self._new("subscription", "sub", customer=p["customer"], status="active", metadata=meta,
                                  collection_method=p.get("collection_method"), latest_invoice=None,
                                  cancel_at=int(p["cancel_at"]) if p.get("cancel_at") else None,
                                  items={"object": "list", "data": [{"id": "si_test", "object": "subscription_item",
                                                                     "price": price, "quantity": 1}]})
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else url.query
                flat = dict(parse_qsl(raw, keep_blank_values=True))
                key = self.headers.get("Idempotency-Key") if method == "POST" else None
                held = [stall for stall in double.state.stalls
                        if stall[0] == method and re.fullmatch(stall[1], url.path)]
                for _method, _pattern, reached, _release, arrivals, waiting in held:
                    if next(arrivals) >= waiting:
                        reached.set()
                for _method, _pattern, _reached, release, _arrivals, _waiting in held:
                    release.wait(timeout=60)  # outside the double's lock: other requests go on
                record = Recorded(method, url.path, flat, key)
                with double._lock:
                    double.state.requests.append(record)
                    status, body = double._respond(method, url.path, flat, key, raw)
                record.status = status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Request-Id", f"req_test{len(double.state.requests)}")
                # No keep-alive: once stopped, the server is really gone for the next call.
                self.send_header("Connection", "close")
                self.close_connection = True
                if key:
                    self.send_header("Idempotency-Key", key)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

        return Handler

    def _respond(self, method: str, path: str, flat: dict[str, str], key: str | None, raw: str) -> tuple[int, bytes]:
        fingerprint = f"{method} {path} {sorted(flat.items())}"
        if key and key in self.state.idempotency:
            seen, status, body = self.state.idempotency[key]
            if seen == fingerprint:
                return status, body  # Stripe replays the first answer, even an error
            return 400, json.dumps(_error(
                "idempotency_error", f"Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}'.")).encode()
        for fault in self.state.faults:
            if fault.times and fault.method == method and re.fullmatch(fault.pattern, path):
                if fault.skip:
                    fault.skip -= 1
                    continue
                fault.times -= 1
                return fault.status, json.dumps(_error(fault.error_type, "Injected failure.")).encode()
        status, obj = self.route(method, path, nested(flat))
        body = json.dumps(obj).encode()
        if key and status < 500:
            self.state.idempotency[key] = (fingerprint, status, body)
        return status, body


def _error(type_: str, message: str) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message}}
