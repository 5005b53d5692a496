"""Rich-text descriptions: organizers write HTML, buyers' browsers render it.

A description is shown on public pages, so whatever an organizer (or a stolen organizer
account) submits must not be able to run script in a buyer's browser. We keep a small
allow-list of formatting tags, drop script-like elements with their content, drop every
event handler and style attribute, and allow links only to http(s) and mailto with
``rel="noopener noreferrer nofollow"`` forced on, so a linked page cannot reach back
through ``window.opener`` and spam links earn no ranking.
"""

from __future__ import annotations

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "br",
        "code",
        "em",
        "h2",
        "h3",
        "h4",
        "hr",
        "i",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "u",
        "ul",
    }
)
# Removed together with everything inside them: their text is never meant to be read.
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math"}
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"


def sanitize_html(value: str) -> str:
    """The description as it may be stored and served: allow-listed tags only."""
    cleaned = nh3.clean(
        value,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return cleaned.strip()
