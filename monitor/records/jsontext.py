"""JSON text on the hot path: orjson to read where it can, the standard library otherwise.

A replay decodes every line, so the faster decoder, orjson, reads where it can. Where orjson refuses
what ``json`` takes (NaN, infinities, lone surrogates), the standard library decides, so what is
accepted and what is an error are as with ``json`` alone, and an error is ``json``'s own
``JSONDecodeError``. One difference is kept: orjson reads an integer beyond 64 bits as a float (no
field of a record holds one; a follower count that large is refused as not an integer).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(text: str | bytes) -> Any:
    """The decoded value. Raises ``json.JSONDecodeError`` for anything it cannot take, also for what
    makes the standard library itself fail otherwise (nesting deeper than its recursion allows, an
    integer of more than 4,300 digits), so one hostile line is an error like any bad line."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", _doc(text), 0) from None
    except ValueError as exc:  # int() past sys.get_int_max_str_digits(), and the like
        raise json.JSONDecodeError(str(exc).split(";")[0], _doc(text), 0) from None


def _doc(text: str | bytes) -> str:
    return text if isinstance(text, str) else ""


def dumps(value: Any) -> str:
    """JSON text, non-ASCII kept as is. The standard library's: orjson writes NaN and infinities as null,
    and what a replay stores is the text it read, so writing is off its hot path."""
    return json.dumps(value, ensure_ascii=False)
