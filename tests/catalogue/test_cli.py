"""`syndicate import` against the test database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from api.catalogue.models import Article, Asset
from api.cli import app
from api.core.config import get_settings
from tests.catalogue.pages import HEADLINE, SAMPLE_TEXT, mee_html_page
from tests.conftest import STANDARDS, cli_runner as runner



@pytest.fixture
def cli_env(cli_env, monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("SYNDICATE_PUBLIC_BASE_URL", "https://syndicate.test")
    monkeypatch.setenv("SYNDICATE_CANONICAL_URL_TEMPLATE", "https://www.middleeasteye.net/news/{slug}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _articles(engine) -> list[Article]:
    with Session(engine) as session:
        return list(session.exec(select(Article).order_by(Article.headline)).all())


def test_import_files_then_reimport_is_unchanged(cli_env, engine, tmp_path: Path) -> None:
    page = tmp_path / "putin.html"
    page.write_text(mee_html_page())
    ninjs = sorted((STANDARDS / "ninjs" / "examples-3.1").glob("*.json"))
    result = runner.invoke(app, ["import", str(SAMPLE_TEXT), *map(str, ninjs)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("3 created, 0 updated, 0 unchanged")
    text_article = next(a for a in _articles(engine) if a.headline == HEADLINE)
    assert text_article.canonical_url == \
        "https://www.middleeasteye.net/news/putin-makes-surprise-visit-to-syria-amid-us-iran-tensions"
    with Session(engine) as session:
        [asset] = session.exec(select(Asset).where(Asset.article_id == text_article.id)).all()
        assert (asset.credit, asset.relicensable) == ("Reuters", False)

    again = runner.invoke(app, ["import", str(SAMPLE_TEXT), *map(str, ninjs)])
    assert again.exit_code == 0 and again.output.strip().endswith("0 created, 0 updated, 3 unchanged")

    edited = tmp_path / "edited.txt"
    edited.write_text(SAMPLE_TEXT.read_text().replace("on Tuesday", "on Tuesday morning"))
    update = runner.invoke(app, ["import", str(edited), "--canonical-url", text_article.canonical_url])
    assert update.exit_code == 0 and "1 updated" in update.output
    assert [a.version for a in _articles(engine) if a.id == text_article.id] == [2]


def test_explicit_format_and_canonical_url(cli_env, engine, tmp_path: Path) -> None:
    page = tmp_path / "page.dat"
    page.write_text(mee_html_page())
    result = runner.invoke(app, ["import", str(page), "--format", "html", "--canonical-url", "https://example.com/p"])
    assert result.exit_code == 0, result.output
    [article] = _articles(engine)
    assert article.canonical_url == "https://example.com/p" and article.section == "News"


def test_bad_file_in_a_batch_writes_nothing(cli_env, engine, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"headline": "Fine", "body_html": "<p>Fine.</p>", "canonical_url": "https://example.com/f"}))
    bad = tmp_path / "bad.json"
    bad.write_text('{"headline": "Broken",\n "body_html": }')
    result = runner.invoke(app, ["import", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: Malformed JSON at line 2, column 15" in result.output and "Nothing was imported" in result.output
    assert _articles(engine) == []


@pytest.mark.parametrize(("content", "args", "message"), [
    ("", [], "empty"),
    ('{"body_html": "<p>x</p>", "canonical_url": "https://example.com/x"}', [], "no headline"),
    ("Headline only\n", ["--format", "text"], "no body paragraphs"),
    ("x", ["--format", "pdf"], "Unknown format 'pdf'"),
])
def test_bad_input_exits_non_zero_with_a_clear_message(cli_env, engine, tmp_path: Path, content, args, message) -> None:
    path = tmp_path / "doc.json"
    path.write_text(content)
    result = runner.invoke(app, ["import", str(path), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert _articles(engine) == []


def test_missing_file_and_url_with_many_files_are_usage_errors(cli_env, engine, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    both = runner.invoke(app, ["import", str(SAMPLE_TEXT), str(SAMPLE_TEXT), "--canonical-url", "https://example.com/x"])
    assert both.exit_code == 2 and "one article" in both.output
    assert _articles(engine) == []


def test_help_describes_every_option() -> None:
    result = runner.invoke(app, ["import", "--help"])
    assert result.exit_code == 0
    for text in ("--format", "--canonical-url", "all or nothing"):
        assert text in result.output


def test_a_text_page_without_a_url_or_a_url_pattern_is_refused(cli_env, engine, monkeypatch) -> None:
    monkeypatch.delenv("SYNDICATE_CANONICAL_URL_TEMPLATE")
    get_settings.cache_clear()
    result = runner.invoke(app, ["import", str(SAMPLE_TEXT)])
    assert result.exit_code == 2
    assert "states no canonical URL" in result.output and "--canonical-url" in result.output
    assert "syndicate.test/articles" not in result.output and _articles(engine) == []
    pinned = runner.invoke(app, ["import", str(SAMPLE_TEXT), "--canonical-url", "https://www.middleeasteye.net/news/p"])
    assert pinned.exit_code == 0, pinned.output
    assert [a.canonical_url for a in _articles(engine)] == ["https://www.middleeasteye.net/news/p"]
