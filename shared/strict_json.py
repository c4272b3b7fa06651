"""JSON as clients may send it and Firestore may store it: Python's parser accepts more than
JSON (NaN, Infinity), builds strings no encoder can write back (lone UTF-16 surrogates), and
recurses until the interpreter gives up. Every JSON text from outside is read through `loads`."""

from __future__ import annotations

import json
import re
from typing import Any

from shared.errors import FieldProblem, InvalidJsonError

# Deeper than anything the API accepts (a bulk item's attributes sit at depth 4), shallow enough
# that walking a value never recurses far.
MAX_DEPTH = 32
# A \uD800-\uDFFF escape: only then can the parsed text hold a surrogate, so only then is it searched.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads(text: bytes | str, field: str = "body") -> Any:
    """The value of a JSON text, or InvalidJsonError naming `field` and what is wrong with it."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise _error(field, f"nested too deeply (at most {MAX_DEPTH} levels)") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, and the constants refused
        raise _error(field, str(exc)) from exc
    if _too_deep(value):
        raise _error(field, f"nested too deeply (at most {MAX_DEPTH} levels)")
    if _SURROGATE_ESCAPE.search(raw) and _has_surrogate(value):
        raise _error(field, "holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not a character")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _error(field: str, problem: str) -> InvalidJsonError:
    message = "request body is not valid JSON" if field == "body" else f"{field} is not valid JSON"
    return InvalidJsonError(message, [FieldProblem(field, problem)])


def _containers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, dict | list)]
    return [v for v in value if isinstance(v, dict | list)]


def _too_deep(value: Any) -> bool:
    """Whether containers nest deeper than MAX_DEPTH (walked level by level, no recursion)."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return True
        level = [child for container in level for child in _containers(container)]
    return False


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack += item.keys()
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return False
