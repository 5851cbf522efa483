"""`syndicate import`: load articles from files into the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

FORMAT_HELP = ("auto (by extension, then content), json (our shape), ninjs (IPTC ninjs 1.x-3.x), "
               "html (an article page) or text (a page's plain text).")


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)


def import_command(
    paths: Annotated[list[Path], typer.Argument(
        exists=True, dir_okay=False, readable=True, help="Files to import: .json (ours or ninjs), .html, .txt.")],
    format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "auto",
    canonical_url: Annotated[Optional[str], typer.Option(
        help="The article's public URL on the publisher's site (one file, one article). Needed for a page that "
             "states none (a text page), unless SYNDICATE_CANONICAL_URL_TEMPLATE derives one from the headline.")] = None,
) -> None:
    """Import articles from files, all or nothing: one bad file and nothing is written.

    Re-importing an article updates it (a new version) or, when identical, leaves it unchanged.
    """
    from api.audit.service import Actor
    from api.catalogue import service
    from api.catalogue.importers import parse_document
    from api.core.config import get_settings
    from api.core.db import make_engine, session_scope
    from api.core.errors import SyndicateError

    if canonical_url and len(paths) > 1:
        raise typer.BadParameter("--canonical-url names one article; import that file on its own.")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        articles = []
        for path in paths:
            articles += parse_document(path.read_bytes(), format=format, source=str(path),
                                       canonical_url=canonical_url, canonical_template=settings.canonical_url_template)
        with session_scope(engine) as session:
            outcomes = service.import_articles(session, articles, actor=Actor("system", "cli-import"))
            lines = [f"{'created' if created else 'updated' if changed else 'unchanged'}  {a.id}  v{a.version}  {a.headline}"
                     for a, created, changed in outcomes]
    except SyndicateError as exc:
        typer.echo(f"error: {exc.detail}\nNothing was imported.", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    for line in lines:
        typer.echo(line)
    created = sum(c for _a, c, _ch in outcomes)
    updated = sum(ch and not c for _a, c, ch in outcomes)
    typer.echo(f"{created} created, {updated} updated, {len(outcomes) - created - updated} unchanged")
