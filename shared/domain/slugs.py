"""Slugs: the URL-safe handles of brands and categories, and the https URLs of brand logos.

A slug is lowercase ASCII letters and digits in words joined by single hyphens (`knitwear`,
`t-shirts-2`), at most 100 characters. Given, it is checked as it is (no silent rewriting); left
out, it is derived from the name by transliteration (python-slugify), and on a clash the first
free of `<slug>-2`, `<slug>-3`, ... is taken, so the same names in the same order always get the
same slugs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from slugify import slugify

MAX_SLUG = 100
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Room left for a `-NN` suffix when a derived slug clashes.
MAX_DERIVED_BASE = MAX_SLUG - 4
MAX_SUFFIX = 99

Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SLUG, pattern=SLUG_PATTERN),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_SLUG,
            "pattern": SLUG_PATTERN,
            "description": "URL-safe: lowercase a-z and 0-9 in words joined by single hyphens. "
            "Unique in the tenant's org; derived from the name when left out.",
            "examples": ["knitwear"],
        }
    ),
]


def derived_slug(name: str, fallback: str) -> str:
    """The slug a name gives (`Café Crème` -> `cafe-creme`); `fallback` when nothing of the name
    transliterates (a name of symbols only)."""
    return slugify(name, max_length=MAX_DERIVED_BASE, word_boundary=False) or fallback


def slug_candidates(base: str) -> Iterator[str]:
    """`base`, then `base-2` ... `base-99`: the deterministic choices for a derived slug."""
    yield base
    for n in range(2, MAX_SUFFIX + 1):
        yield f"{base}-{n}"


# --- https URLs ----------------------------------------------------------------------------
MAX_URL = 2048


def https_url(value: str) -> str:
    """An absolute https URL with a host, and no whitespace or control characters in it."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("a URL holds no spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError("not a URL") from exc
    if parts.scheme.lower() != "https":
        raise ValueError("only https URLs are accepted")
    if not host:
        raise ValueError("the URL has no host")
    return value


HttpsUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL),
    AfterValidator(https_url),
    WithJsonSchema(
        {
            "type": "string",
            "format": "uri",
            "minLength": 1,
            "maxLength": MAX_URL,
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]://[^\\s/?#]+",
            "description": "An absolute https URL.",
            "examples": ["https://cdn.example.com/logos/acme.png"],
        }
    ),
]
