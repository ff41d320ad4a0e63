"""Checking a manifest read back from disk: the shapes and types the rest of docqa relies on.

A manifest is input like any other (edited by hand, or by a tamperer who rewrote the
checksums): valid JSON with a list where an object belongs would otherwise surface as a
TypeError deep in a command. Keys may be missing (older formats lack some, and the code
reads them with defaults, finding the index stale or inconsistent); a key that is there must
have the type the code expects.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Callable

from .cleaning import json_depth

# A manifest is four levels deep; much deeper is not one docqa wrote (and deep enough would
# exhaust Python's recursion in a comparison or a repr).
MAX_DEPTH = 16


def _count(value, where: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{where} is {_kind(value)}, not a whole number"
    return None if value >= 0 else f"{where} is {value}, below 0"


def _number(value, where: str) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None
    return f"{where} is {_kind(value)}, not a number"


def _text(value, where: str) -> str | None:
    return None if isinstance(value, str) else f"{where} is {_kind(value)}, not a string"


def _each(schema) -> Callable[[object, str], str | None]:
    """Every value of an object matches ``schema``."""
    def check(value, where: str) -> str | None:
        if not isinstance(value, dict):
            return f"{where} is {_kind(value)}, not an object"
        for key, item in value.items():
            problem = _check(item, schema, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    return check


def _index_file(value, where: str) -> str | None:
    """An entry of "files": a path inside the index folder, with its size and sha256."""
    problem = _each({"bytes": _count, "sha256": _text})(value, where)
    if problem:
        return problem
    for name, entry in value.items():
        path = PurePosixPath(name)
        if "\x00" in name or not name or path.is_absolute() or ".." in path.parts or "\\" in name:
            return f"its entry for {name!r} is malformed (not a path inside the index folder)"
        missing = [key for key in ("bytes", "sha256") if key not in entry]
        if missing:
            return f"its entry for {name!r} has no {' or '.join(missing)}"
    return None


SCHEMA = {
    "settings": {"format_version": _count, "embedding": {"model": _text, "dimension": _count}},
    "corpus": {"files": _each(_text), "skipped": _each(_text)},
    "counts": {"documents": _count, "chunks": _count},
    "files": _index_file,
    "vectors": {"index": _text, "storage": _text, "neighbours": _count, "ef_construction": _count, "ef_search": _count,
                "lists": _count, "subquantizers": _count, "nprobe": _count, "k_factor": _number},
    "build_seconds": _number,
}


def manifest_problem(manifest) -> str | None:
    """What is wrong with the structure of a parsed manifest, in words, or None when nothing is."""
    if not isinstance(manifest, dict):
        return "it is not a JSON object"
    if json_depth(manifest, MAX_DEPTH) > MAX_DEPTH:
        return f"it is nested more than {MAX_DEPTH} levels deep"
    return _check(manifest, SCHEMA, "")


def _check(value, schema, where: str) -> str | None:
    """The first problem of ``value`` against ``schema``: an object of schemas by key, or a check of (value, where)."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return f"{where} is {_kind(value)}, not an object"
        for key, part in schema.items():
            if key in value:
                problem = _check(value[key], part, f"{where}.{key}" if where else key)
                if problem:
                    return problem
        return None
    return schema(value, where)


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
