"""Reading a YAML file so that every problem can name its file, line and field.

``read_yaml`` keeps the line of every key and list item; ``validate`` runs a pydantic model over the
document and turns each validation error into ``file:line: field: explanation``, with a did-you-mean
for unknown keys and never an echo of what was written in a secret's place.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError


@dataclass
class Located:
    """A parsed YAML document and the line of every key and item in it."""

    value: Any
    lines: dict[tuple[Any, ...], int]

    def line_of(self, loc: tuple[Any, ...]) -> int:
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, 1)


def read_yaml(path: Path, problems: list[str]) -> Located | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{path}:1: file not found (set --config or $MONITOR_CONFIG)")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}:1: cannot read: {exc}")
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problems.append(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}")
        return None
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.append(f"{path}:1: expected a mapping of keys to values at the top level")
        return None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _index_lines(node, (), lines, path, problems)
    return Located(value, lines)


def _index_lines(node: yaml.Node, loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int],
                 path: Path, problems: list[str]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(f"{path}:{key_node.start_mark.line + 1}: {_dotted(loc + (key,))}: "
                                "key appears twice; the later value would silently win")
            seen.add(key)
            lines[loc + (key,)] = key_node.start_mark.line + 1
            _index_lines(value_node, loc + (key,), lines, path, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, loc + (i,), lines, path, problems)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


M = typing.TypeVar("M", bound=BaseModel)


def validate(model: type[M], doc: Located, path: Path, problems: list[str]) -> M | None:
    try:
        return model.model_validate(doc.value)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = doc.line_of(loc)
            if err["type"] == "extra_forbidden":
                allowed = _keys_at(model, loc[:-1])
                hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
                why = f"unknown key '{loc[-1]}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                why += f"; allowed here: {', '.join(sorted(allowed))}"
            elif err["type"] == "missing":
                why = "is required"
            else:
                why = str(err["msg"]).removeprefix("Value error, ")
                # Never echo what was written in a secret's place: it may be the token itself.
                # ``database`` may be a URL with a password in it (refused, never echoed).
                secret_field = any(str(p).endswith("_env") or str(p) == "database" for p in loc)
                if "input" in err and not secret_field and not isinstance(err["input"], (dict, list)):
                    why += f" (got {err['input']!r})"
            problems.append(f"{path}:{line}: {_dotted(loc)}: {why}")
        return None


def _keys_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The key names a model accepts at a nested location, for did-you-mean hints."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        field_info = next((f for n, f in fields.items() if part in (n, f.alias)), None)
        if field_info is None:
            return []
        current = _model_in(field_info.annotation)
    fields = getattr(current, "model_fields", {})
    return [f.alias or n for n, f in fields.items()]


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, dict, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
