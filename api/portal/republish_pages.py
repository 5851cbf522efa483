"""`/republish/{slug or id}`: the page behind every article footer. It shows what a licensed copy
holds, asks the fields of the licence form (rendered from the form's JSON Schema), prices them
(a "Get a quote" submit without JavaScript; live with `republish.js`) and turns the submit into a
partner and a licence request through the portal service."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta

import pycountry
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import FormData

from api.catalogue import service as catalogue
from api.catalogue.errors import ArticleNotFound
from api.catalogue.models import Article, ArticleStatus
from api.catalogue.visibility import is_available
from api.core.config import Settings
from api.core.errors import SyndicateError
from api.deps import SessionDep, SettingsDep
from api.licensing import errors as licensing_errors
from api.licensing import service as licensing
from api.partners.schemas import ContactCreate
from api.portal import service as portal
from api.portal.views import PortalRefusal, templates
from api.web import pages

router = APIRouter(include_in_schema=False)
FORM_PURPOSE = "republish-form"

# Which field a domain error is about, so the page shows it next to that field.
ERROR_FIELDS: dict[type[SyndicateError], str] = {
    licensing_errors.UnknownTerritory: "territories", licensing_errors.UnknownLanguage: "language",
    licensing_errors.AudienceOutOfRange: "audience_size", licensing_errors.InvalidPeriod: "period_months",
    licensing_errors.PeriodInPast: "period_months", licensing_errors.BillingModeNotOffered: "billing_mode",
}
# Words a person reads next to a field the schema check refused.
PLAIN = {"audience_size": "Type the number of monthly readers as a whole number, for example 20000.",
         "period_months": "Choose how many months you need the licence for.",
         "ends_at": "Choose the last day of the licence, today or later.",
         "publication_url": "Type the full address of the page, starting with https://",
         "territories": "Choose at least one country.", "use": "Choose where the article will appear.",
         "email": "Type an e-mail address we can write to, such as name@outlet.example.",
         "outlet_name": "Tell us the name of your publication.", "contact_name": "Tell us your name."}
UNTIL = "until"  # the period choice that sends `ends_at` (the last day chosen) instead of `period_months`
TERMS_FIELDS = ("use", "territories", "language", "translation", "period_months", "audience_size",
                "publication_url", "notes")


def _frame_ancestors(settings: Settings) -> str:
    return " ".join(["'self'", *settings.republish_frame_ancestors.split()])


def _article_or_gone(session, slug_or_id: str) -> tuple[Article, str | None]:
    """The article, or the reason it cannot be licensed (shown on a 410 page)."""
    try:
        article = catalogue.find_article(session, slug_or_id)
    except ArticleNotFound:
        raise PortalRefusal("We cannot find that article. Check the link on the publisher's page.", status=404) from None
    if article.status == ArticleStatus.withdrawn:
        return article, "The publisher has withdrawn this article, so it can no longer be republished."
    if not article.licensable:
        return article, "This article is not offered for republication (for example, it belongs to another agency)."
    if not is_available(article):
        return article, "This article is not published yet; it can be republished once it is."
    return article, None


def _fields(session, settings: Settings) -> dict[str, dict[str, Any]]:
    """The form's fields as the page shows them, from the JSON Schema (titles, help, choices)."""
    schema = licensing.form_json_schema(session, base_url=settings.public_base_url)
    props = schema["properties"]
    out = {name: {"name": name, "title": props[name]["title"], "help": props[name]["description"],
                  "choices": [(c["const"], c["title"]) for c in props[name].get("oneOf", []) if "const" in c]}
           for name in TERMS_FIELDS}
    out["territories"]["choices"] = sorted(((c["const"], c["title"]) for c in props["territories"]["items"]["oneOf"]),
                                           key=lambda choice: choice[1])
    out["language"]["choices"] = [(code, _language_name(code)) for code in props["language"]["examples"]]
    out["period_months"]["help"] = "How long you need the licence for."
    out["period_months"]["choices"] = [(m, licensing.months_label(m)) for m in props["period_months"]["examples"]]
    if "ends_at" in props:  # the schema takes an end date instead of a number of months
        out["period_months"]["choices"].append((UNTIL, "Until a date I choose"))
        out["ends_at"] = {"name": "ends_at", "title": "Last day of the licence",
                          "help": "Used when the period is “Until a date I choose”: the licence runs to the end of "
                                  "that day (UTC)."}
    out["audience_size"]["bands"] = [b["title"] for b in props["audience_size"]["oneOf"]]
    out["audience_size"]["max"] = props["audience_size"]["maximum"]
    return out


def _language_name(code: str) -> str:
    language = pycountry.languages.get(alpha_2=code)
    return language.name if language else code


def _text(form: FormData, name: str) -> str:
    """A text field's value; a file sent in its place counts as empty (the field's check then names it)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _values(form: FormData | None) -> dict[str, Any]:
    if form is None:
        return {"use": "web", "territories": ["GB"], "language": "en", "translation": False, "period_months": "12",
                "ends_at": "", "audience_size": "10000", "publication_url": "", "notes": ""}
    values: dict[str, Any] = {k: _text(form, k) for k in
                              (*TERMS_FIELDS, "ends_at", "outlet_name", "contact_name", "email") if k != "territories"}
    values["territories"] = form.getlist("territories")
    values["translation"] = form.get("translation") == "on"
    return values


def _terms(article: Article, values: dict[str, Any]) -> tuple[licensing.LicenceRequestCreate | None, dict[str, str]]:
    body = {"scope": "article", "article_ids": [article.id], "use": values["use"], "territories": values["territories"],
            "language": values["language"] or "en", "translation": values["translation"],
            "period_months": values["period_months"] or None, "audience_size": values["audience_size"] or None,
            "publication_url": values["publication_url"] or None, "notes": values["notes"] or None}
    if values["period_months"] == UNTIL:
        try:  # the licence runs to the end of the last day chosen
            last_day = date.fromisoformat(values.get("ends_at") or "")
        except ValueError:
            return None, {"ends_at": PLAIN["ends_at"]}
        body["period_months"] = None
        body["ends_at"] = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC).isoformat()
    try:
        return licensing.LicenceRequestCreate.model_validate(body), {}
    except ValidationError as exc:
        return None, {str(e["loc"][0]): PLAIN.get(str(e["loc"][0]), e["msg"]) for e in exc.errors()}


def _field_of(error: SyndicateError) -> str:
    return ERROR_FIELDS.get(type(error), "form")


def _quote(session, settings: Settings, article: Article, values: dict[str, Any]):
    request, errors = _terms(article, values)
    if request is None:
        return None, errors
    try:
        return licensing.quote(session, request.terms(), currency=settings.default_currency), {}
    except SyndicateError as error:
        return None, {_field_of(error): error.detail or error.title}


def _page(request: Request, session, settings: Settings, article: Article, *, values: dict[str, Any],
          errors: dict[str, str] | None = None, quote=None, code: int = 200) -> HTMLResponse:
    assets = catalogue.get_assets(session, article.id)
    token = secrets.token_urlsafe(24)
    return pages.render(
        templates, request, "republish.html", code=code, frame_ancestors=_frame_ancestors(settings),
        article=article, kept=[a for a in assets if a.relicensable], left_out=[a for a in assets if not a.relicensable],
        fields=_fields(session, settings), values=values, errors=errors or {}, quote=quote,
        form_token=token, form_check=pages.form_token(settings, FORM_PURPOSE, token), settings=settings,
    )


def _gone(request: Request, settings: Settings, article: Article, reason: str) -> HTMLResponse:
    return pages.render(templates, request, "gone.html", code=410, frame_ancestors=_frame_ancestors(settings),
                        article=article, reason=reason)


@router.get("/republish/{slug_or_id}", response_class=HTMLResponse)
def republish_page(request: Request, slug_or_id: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    article, reason = _article_or_gone(session, slug_or_id)
    if reason:
        return _gone(request, settings, article, reason)
    values = _values(None)
    quote, _errors = _quote(session, settings, article, values)
    return _page(request, session, settings, article, values=values, quote=quote)


@router.post("/republish/{slug_or_id}/quote")
async def live_quote(request: Request, slug_or_id: str, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """What `republish.js` asks as the reader changes an option: the quote lines, formatted."""
    if not pages.is_same_origin(request, settings):
        return JSONResponse({"error": "Refused: this request did not come from the republish page."}, status_code=403)
    article, reason = _article_or_gone(session, slug_or_id)
    if reason:
        return JSONResponse({"error": reason}, status_code=410)
    quote, errors = _quote(session, settings, article, _values(await request.form()))
    if quote is None:
        return JSONResponse({"errors": errors}, status_code=422)
    return JSONResponse(_quote_json(quote))


def _quote_json(quote) -> dict[str, Any]:
    money = templates.env.filters["money"]
    return {"lines": [{"label": line.label, "amount": money(line.amount, quote.currency)} for line in quote.lines],
            "total": money(quote.amount, quote.currency)}


@router.post("/republish/{slug_or_id}", response_class=HTMLResponse)
async def submit(request: Request, slug_or_id: str, session: SessionDep, settings: SettingsDep,
                 form_token: Annotated[str, Form()] = "", form_check: Annotated[str, Form()] = "",
                 action: Annotated[str, Form()] = "quote") -> HTMLResponse:
    article, reason = _article_or_gone(session, slug_or_id)
    if reason:
        return _gone(request, settings, article, reason)
    values = _values(await request.form())
    issued = form_token and secrets.compare_digest(form_check, pages.form_token(settings, FORM_PURPOSE, form_token))
    if not pages.is_same_origin(request, settings) or not issued:
        errors = {"form": "This form is out of date or did not come from this page. Check the fields and send it again."}
        return _page(request, session, settings, article, values=values, errors=errors, code=403)
    quote, errors = _quote(session, settings, article, values)
    if action != "request" or errors:
        return _page(request, session, settings, article, values=values, errors=errors, quote=quote,
                     code=422 if errors else 200)
    done = portal.find_submission(session, form_token)
    if done is None:
        applicant, applicant_errors = _applicant(values)
        if applicant is None:
            return _page(request, session, settings, article, values=values, errors=applicant_errors, quote=quote,
                         code=422)
        terms, _ = _terms(article, values)
        assert terms is not None  # the same values were quoted, without errors, above
        try:
            portal.submit_republish(session, settings, form_token=form_token, applicant=applicant, terms=terms.terms(),
                                    publication_url=str(terms.publication_url) if terms.publication_url else None,
                                    notes=terms.notes)
            session.commit()
        except SyndicateError as error:
            session.rollback()
            return _page(request, session, settings, article, values=values, quote=quote, code=error.status,
                         errors={_field_of(error): error.detail or error.title})
        except IntegrityError:  # the same form sent twice at once: the other submit recorded it
            session.rollback()
        done = portal.find_submission(session, form_token)
    assert done is not None  # recorded just now, by this submit or by the same form sent at once
    return pages.render(templates, request, "republish_sent.html", frame_ancestors=_frame_ancestors(settings),
                        article=article, request_id=done.request_id, email=values.get("email"))


def _applicant(values: dict[str, Any]) -> tuple[portal.Applicant | None, dict[str, str]]:
    errors: dict[str, str] = {}
    if not values["outlet_name"]:
        errors["outlet_name"] = PLAIN["outlet_name"]
    try:
        contact = ContactCreate(name=values["contact_name"] or "-", email=values["email"])
    except ValidationError:
        errors["email"] = PLAIN["email"]
        contact = None
    if not values["contact_name"]:
        errors["contact_name"] = PLAIN["contact_name"]
    if errors or contact is None:
        return None, errors
    return portal.Applicant(outlet_name=values["outlet_name"], contact_name=contact.name, email=str(contact.email)), {}

