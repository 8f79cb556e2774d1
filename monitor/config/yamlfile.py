"""Reading a YAML file so that every problem can name its file, line and field.

``read_yaml`` keeps the line of every key and list item; ``validate`` runs a pydantic model over the
document and turns each validation error into ``file:line: field: explanation``, with a did-you-mean
for unknown keys and never an echo of what was written in a secret's place.

What it refuses, each with one line (docs/operations.md, "Limits"): a file that is not a regular
``.yaml``/``.yml`` file (``--config /etc/shadow``, a symlink to a device or to a file of another
kind), a file larger than ``MAX_FILE_BYTES``, text that is not UTF-8 or holds NUL bytes, and YAML
anchors and aliases (``&a``, ``*a``): an alias is expanded wherever it is used, so 457 bytes of
nested aliases are 9^9 nodes, and monitor's files never need one. A key written with no value is an
error too: an unquoted ``channel: #pr`` is a key and a comment, not a channel. A problem quotes at
most ``EXCERPT`` characters of what was written, so a file linked to something secret is not echoed
back, and a file's problems, of every kind, are cut short at ``MAX_PROBLEMS`` (``FileProblems``);
the rest are counted.
"""

from __future__ import annotations

import difflib
import stat
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

MAX_FILE_BYTES = 1 << 20   # 1 MiB: a watch-list of 1,000 terms is about 20 KB
EXCERPT = 40                # characters of a bad value quoted in a problem
MAX_PROBLEMS = 10           # per file; the rest are counted
YAML_SUFFIXES = (".yaml", ".yml")


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when built with it: 20x faster


def _refuse_aliases(text: str) -> None:
    """Raise a YAMLError at the first anchor or alias, before anything is composed or expanded."""
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed in monitor's files; write "
                "the value out", event.start_mark)  # type: ignore[arg-type]  # libyaml's Mark has the same fields


class FileProblems:
    """One file's problems: the first ``MAX_PROBLEMS`` kept, the others only counted, so that a file
    of 30,000 bad lines is eleven lines of output (and is not formatted 30,000 times)."""

    def __init__(self, path: Path):
        self.path = path
        self.shown: list[str] = []
        self.more = 0

    @property
    def full(self) -> bool:
        return len(self.shown) >= MAX_PROBLEMS

    def append(self, problem: str) -> None:
        if self.full:
            self.more += 1
        else:
            self.shown.append(problem)

    def __bool__(self) -> bool:
        return bool(self.shown)

    def lines(self) -> list[str]:
        """What to print: the problems kept, and how many more there are."""
        if not self.more:
            return list(self.shown)
        return [*self.shown, f"{self.path}: {self.more} more problem(s) not shown; fix these first"]


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """At most ``limit`` characters of ``value``, on one line."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass
class Located:
    """A parsed YAML document and the line of every key and item in it."""

    value: Any
    lines: dict[tuple[Any, ...], int]

    def line_of(self, loc: tuple[Any, ...]) -> int:
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, 1)


def read_yaml(path: Path, problems: FileProblems) -> Located | None:
    """The document of ``path`` with its lines, or None when it cannot be read as a YAML mapping; each
    problem found (keys with no value and keys written twice too) goes to ``problems``."""
    text = _read_text(path, problems)
    if text is None:
        return None
    loader = None
    try:
        _refuse_aliases(text)
        loader = _Loader(text)
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problems.append(f"{path}:{line}: not valid YAML: {excerpt(getattr(exc, 'problem', None) or exc, 120)}")
        return None
    finally:
        if loader is not None:
            loader.dispose()
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.append(f"{path}:1: expected a mapping of keys to values at the top level")
        return None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _index_lines(node, (), lines, path, problems, text.splitlines())
    return Located(value, lines)


def _read_text(path: Path, problems: FileProblems) -> str | None:
    """The file's text, or None with one problem: missing, not a regular YAML file, too large, not text."""
    try:
        info = path.stat()  # follows a symlink: what would be read
    except FileNotFoundError:
        problems.append(f"{path}:1: file not found (set --config or $MONITOR_CONFIG)")
        return None
    except OSError as exc:
        problems.append(f"{path}:1: cannot read: {exc.strerror or exc}")
        return None
    if not stat.S_ISREG(info.st_mode):
        problems.append(f"{path}:1: not a regular file; point to a YAML file")
        return None
    if path.is_symlink() and path.resolve().suffix.lower() not in YAML_SUFFIXES:
        problems.append(f"{path}:1: links to a file that is not .yaml or .yml; monitor reads only YAML files")
        return None
    if path.suffix.lower() not in YAML_SUFFIXES:  # --config /etc/shadow: refused unread
        problems.append(f"{path}:1: not a .yaml or .yml file; monitor reads only YAML files")
        return None
    if info.st_size > MAX_FILE_BYTES:
        problems.append(f"{path}:1: {info.st_size:,} bytes, more than the {MAX_FILE_BYTES:,} a settings file or "
                        "watch-list may have (docs/operations.md, Limits); split it")
        return None
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        problems.append(f"{path}:1: cannot read: {exc.strerror or exc}")
        return None
    if len(data) > MAX_FILE_BYTES:
        problems.append(f"{path}:1: more than the {MAX_FILE_BYTES:,} bytes a settings file or watch-list may have")
        return None
    if b"\0" in data:
        problems.append(f"{path}:1: not a text file (it holds NUL bytes); monitor reads only YAML files")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        problems.append(f"{path}:{line}: not UTF-8 text; save the file as UTF-8")
        return None


def _index_lines(node: yaml.Node, loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int],
                 path: Path, problems: FileProblems, text: list[str]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(f"{path}:{line}: {_dotted(loc + (key,))}: "
                                "key appears twice; the later value would silently win")
            seen.add(key)
            lines[loc + (key,)] = line
            if _empty(value_node):
                problems.append(f"{path}:{line}: {_dotted(loc + (key,))}: has no value"
                                + _comment_hint(text, value_node))
            _index_lines(value_node, loc + (key,), lines, path, problems, text)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, loc + (i,), lines, path, problems, text)


def _empty(node: yaml.Node) -> bool:
    """A value left out (``key:``), not written as ``null`` or ``~``."""
    return (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null" and node.value == ""
            and not node.style)  # plain: None from PyYAML's parser, "" from libyaml's


def _comment_hint(text: list[str], node: yaml.Node) -> str:
    """Why a value may be missing: a ``#`` after the colon starts a comment in YAML."""
    row = node.start_mark.line
    rest = text[row][node.start_mark.column:] if row < len(text) else ""
    if "#" not in rest:
        return ""
    word = rest[rest.index("#"):].split()[0]
    return f' (a # starts a comment in YAML: quote it, "{excerpt(word, 20)}")'


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        name = excerpt(part, 30)
        out += f"[{part}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out or "(top level)"


M = typing.TypeVar("M", bound=BaseModel)


def validate(model: type[M], doc: Located, path: Path, problems: FileProblems) -> M | None:
    try:
        return model.model_validate(doc.value)
    except ValidationError as exc:
        errors = exc.errors()
        for i, err in enumerate(errors):
            if problems.full:  # the rest are counted, not formatted
                problems.more += len(errors) - i
                break
            loc = tuple(err["loc"])
            line = doc.line_of(loc)
            if err["type"] == "extra_forbidden":
                allowed = _keys_at(model, loc[:-1])
                hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
                why = f"unknown key '{excerpt(loc[-1], 30)}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                why += f"; allowed here: {', '.join(sorted(allowed))}"
            elif err["type"] == "missing":
                why = "is required"
            else:
                why = str(err["msg"]).removeprefix("Value error, ")
                # Never echo what was written in a secret's place: it may be the token itself.
                # ``database`` may be a URL with a password in it (refused, never echoed).
                secret_field = any(str(p).endswith("_env") or str(p) == "database" for p in loc)
                if ("input" in err and not secret_field and not isinstance(err["input"], (dict, list))
                        and str(err["input"]) not in why):
                    why += f" (got {excerpt(repr(err['input']))})"
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
