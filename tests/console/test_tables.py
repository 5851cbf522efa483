"""The console's list pages in one shape (api/console/tables.py, templates/_table.html): filters
by state, partner, date and text; sorting from the column headers; keyset pages whose links keep
every filter; names instead of codes in the rows."""

from __future__ import annotations

import re
from datetime import timedelta

from api.core.db import utcnow
from tests.builders import make_article, make_licence, make_partner
from tests.console.helpers import log_in, next_page_url, submitted_request


def _positions(html: str, *needles: str) -> list[int]:
    return [html.index(needle) for needle in needles]


def test_the_queue_sorts_by_value_from_its_header_and_keeps_the_filters(console, session) -> None:
    cheap, dear = submitted_request(session), submitted_request(session)
    for row, amount in ((cheap, 1_000), (dear, 90_000)):
        row.quoted_amount = amount
        session.add(row)
    session.commit()
    log_in(console, session, roles=["licensing"])

    by_age = console.get("/console/requests")
    assert by_age.status_code == 200
    first, second = _positions(by_age.text, f">{cheap.id}<", f">{dear.id}<")
    assert first < second  # oldest first by default
    assert 'aria-sort="ascending"' in by_age.text
    assert 'href="/console/requests?state=in_review&amp;sort=value"' in by_age.text  # the Quote header

    by_value = console.get("/console/requests?state=in_review&sort=value")
    first, second = _positions(by_value.text, f">{dear.id}<", f">{cheap.id}<")
    assert first < second and 'aria-sort="descending"' in by_value.text
    # Names, not codes: the use as the request form says it, territories as countries.
    assert "Website" in by_value.text and "United Kingdom" in by_value.text and "In review" in by_value.text


def test_the_queue_filters_by_partner_and_received_date(console, session) -> None:
    mine, other = submitted_request(session), submitted_request(session)
    other.created_at = utcnow() - timedelta(days=10)
    session.add(other)
    session.commit()
    log_in(console, session, roles=["licensing"])

    only_mine = console.get(f"/console/requests?partner_id={mine.partner_id}")
    assert mine.id in only_mine.text and other.id not in only_mine.text
    assert f'<option value="{mine.partner_id}" selected>' in only_mine.text

    day = (utcnow() - timedelta(days=10)).date().isoformat()
    that_day = console.get(f"/console/requests?received_from={day}&received_until={day}")
    assert other.id in that_day.text and mine.id not in that_day.text

    bad = console.get("/console/requests?received_from=31/03/2026")
    assert bad.status_code == 422 and "is not a date" in bad.text


def test_next_page_links_keep_the_filters_and_the_order(console, session) -> None:
    partner = make_partner(session, name="Many Requests Gazette")
    for _ in range(28):
        row = submitted_request(session)
        row.partner_id = partner.id
        session.add(row)
    session.commit()
    log_in(console, session, roles=["licensing"])

    page = console.get(f"/console/requests?partner_id={partner.id}&sort=newest")
    link = next_page_url(page.text)
    assert link and f"partner_id={partner.id}" in link and "sort=newest" in link and "cursor=" in link
    second = console.get(link)
    assert second.status_code == 200 and "← First page" in second.text and next_page_url(second.text) is None
    ids_one = set(re_ids(page.text)) - set(re_ids(second.text))
    assert len(ids_one) == 25 and len(re_ids(second.text)) == 3


def re_ids(html: str) -> list[str]:
    return re.findall(r'href="/console/requests/(lrq_[^"]+)"', html)


def test_licences_sort_by_end_date_and_filter_by_state(console, session) -> None:
    partner = make_partner(session)
    article = make_article(session)
    later = make_licence(session, partner=partner, articles=[article], days=300)
    sooner = make_licence(session, partner=partner, articles=[article], days=20)
    session.commit()
    log_in(console, session, roles=["licensing"])

    newest = console.get("/console/licences")
    assert newest.text.index(f">{sooner.id}<") < newest.text.index(f">{later.id}<")  # newest id first
    ending = console.get("/console/licences?sort=ends")
    assert ending.text.index(f">{sooner.id}<") < ending.text.index(f">{later.id}<")
    ending_late = console.get("/console/licences?sort=newest&ends_from=" + (utcnow() + timedelta(days=100)).date().isoformat())
    assert later.id in ending_late.text and sooner.id not in ending_late.text
    assert "Active" in newest.text and "Website" in newest.text
    revoked_only = console.get("/console/licences?state=revoked")
    assert later.id not in revoked_only.text and "No licences match these filters." in revoked_only.text


def test_partners_sort_by_name_and_search_by_text(console, session) -> None:
    zeta, alpha = make_partner(session, name="Zeta Herald"), make_partner(session, name="Alpha Courier", country="FR")
    session.commit()
    log_in(console, session, roles=["licensing"])

    by_name = console.get("/console/partners?sort=name")
    assert by_name.text.index("Alpha Courier") < by_name.text.index("Zeta Herald")
    assert "France" in by_name.text  # the country by name
    found = console.get("/console/partners?text=herald")
    assert "Zeta Herald" in found.text and "Alpha Courier" not in found.text
    literal = console.get("/console/partners?text=%25")  # LIKE's wildcard is matched as itself
    assert "Zeta Herald" not in literal.text and alpha.id not in literal.text and zeta.id not in literal.text


def test_the_partner_pages_audit_link_still_filters_the_trail(console, session) -> None:
    one, two = make_partner(session, name="Audited One"), make_partner(session, name="Audited Two")
    session.commit()
    log_in(console, session, roles=["licensing"])
    trail = console.get(f"/console/audit?partner_id={one.id}")
    assert trail.status_code == 200 and one.id in trail.text and f"/console/partners/{two.id}" not in trail.text
    oldest = console.get(f"/console/audit?partner_id={one.id}&sort=oldest")
    assert 'aria-sort="ascending"' in oldest.text


def test_an_unknown_sort_or_choice_falls_back_and_a_stale_cursor_is_refused(console, session) -> None:
    submitted_request(session)
    log_in(console, session, roles=["admin"])
    for path in ("/console/requests", "/console/licences", "/console/invoices", "/console/partners", "/console/audit",
                 "/console/staff", "/console/operations/outbox"):
        assert console.get(f"{path}?sort=nonsense&state=nonsense&status=nonsense").status_code == 200, path
        assert console.get(f"{path}?cursor=garbage").status_code == 422, path


def test_any_state_on_the_queue_stays_any_on_the_next_page(console, session) -> None:
    rows = [submitted_request(session) for _ in range(26)]
    rows[0].state = "rejected"
    session.add(rows[0])
    session.commit()
    log_in(console, session, roles=["licensing"])
    page = console.get("/console/requests?state=&sort=newest")
    link = next_page_url(page.text)
    assert link and "state=&" in link
    assert rows[0].id in console.get(link).text  # the oldest, rejected one: "any state" held on page 2


def test_each_tables_csv_has_the_same_filters_and_every_page(console, session) -> None:
    partner = make_partner(session, name="=HYPERLINK Gazette")  # a name a spreadsheet would run
    article = make_article(session)
    kept = [make_licence(session, partner=partner, articles=[article], amount=12_345) for _ in range(27)]
    other = make_licence(session, partner=make_partner(session), articles=[article])
    session.commit()
    log_in(console, session, roles=["licensing"])

    page = console.get(f"/console/licences?partner_id={partner.id}&sort=ends")
    link = re.search(r'href="([^"]+)">CSV of these rows', page.text).group(1).replace("&amp;", "&")
    assert link == f"/console/licences.csv?partner_id={partner.id}&sort=ends"
    exported = console.get(link)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("licence,partner,scope,use") and len(lines) == 1 + len(kept)  # past the first page
    assert other.id not in exported.text and "123.45" in exported.text and "Website" in exported.text
    assert "'=HYPERLINK Gazette" in exported.text and ",=HYPERLINK" not in exported.text
    for path in ("/console/requests.csv", "/console/partners.csv?sort=name"):
        assert console.get(path).status_code == 200, path


def test_partner_names_are_one_query_for_any_number_of_partners(session) -> None:
    from api.console import table_views
    from tests.query_plans import counted

    made = [make_partner(session) for _ in range(5)]
    session.commit()
    with counted(session.get_bind()) as statements:
        names = table_views.partner_names(session, [p.id for p in made] + [made[0].id])
    assert names == {p.id: p.name for p in made}
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements
