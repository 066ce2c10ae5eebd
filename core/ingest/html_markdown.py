"""Turn an HTML page into Markdown of its main content, so it is chunked like a Markdown file."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

from core.ingest.chunking import collapse_whitespace

_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
# Site chrome rather than content: semantic tags, ARIA landmarks, and the class names the common
# documentation themes (Sphinx, MkDocs, Docusaurus) give to tables of contents and sidebars.
_CHROME_TAGS = [
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "aside",
    "footer",
    "form",
    "button",
    "svg",
    "iframe",
    "dialog",
]
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_CHROME_CLASSES = frozenset(
    {"sidebar", "toc", "table-of-contents", "breadcrumb", "breadcrumbs", "navbar", "skip-link"}
)
# Themes put a permalink after each heading whose text is one of these marks (or nothing).
_PERMALINK_MARKS = "\u200b¶#§🔗"

_CONVERTER = MarkdownConverter(
    heading_style="ATX",
    bullets="-",
    strip=["a", "img"],  # link text stays; URLs and images would only add noise to search
    escape_asterisks=False,
    escape_underscores=False,
)


def html_to_markdown(data: bytes, charset: str | None = None) -> tuple[str, str]:
    """The page's <title> and its main content as Markdown, headings kept as `#` headings.

    `charset` is the one an HTTP response declared; otherwise the page's own <meta> decides.
    """
    soup = BeautifulSoup(data, "html.parser", from_encoding=charset)
    title_tag = soup.find("title")
    title = collapse_whitespace(title_tag.get_text()) if title_tag else ""
    content = _main_content(soup)
    _drop_chrome(content)
    return title, _CONVERTER.convert_soup(content)


def _main_content(soup: BeautifulSoup) -> Tag:
    """<main>, role=main or <body>, narrowed to a lone <article> holding its first heading."""
    container = soup.find("main") or soup.find(role="main") or soup.body or soup
    articles = container.find_all("article")
    if len(articles) == 1:
        first_heading = container.find(_HEADINGS)
        if first_heading is None or articles[0] in first_heading.parents:
            return articles[0]
    return container


def _drop_chrome(content: Tag) -> None:
    for tag in content.find_all(_CHROME_TAGS):
        tag.decompose()
    for tag in content.find_all(True):
        if tag.decomposed:
            continue
        classes = set(tag.get("class") or ())
        if (
            tag.get("role") in _CHROME_ROLES
            or classes & _CHROME_CLASSES
            or tag.has_attr("hidden")
            or (tag.name == "header" and tag.find(_HEADINGS) is None)
            or (tag.name == "a" and _is_permalink(tag))
        ):
            tag.decompose()


def _is_permalink(link: Tag) -> bool:
    in_heading = link.find_parent(_HEADINGS) is not None
    return in_heading and not link.get_text().strip().strip(_PERMALINK_MARKS).strip()
