"""Input from outside made safe to handle: text that cannot be encoded, JSON nested without end."""

from __future__ import annotations

import re

# A str can hold surrogates that no UTF-8 text can: Python keeps a byte that is not UTF-8 in a
# command-line argument as one (\udce9 for b"\xe9"), and JSON's "\ud800" escape makes a lone one.
# The tokenizer refuses them (TypeError) and writing them as UTF-8 fails, so they are replaced.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def replace_surrogates(text: str) -> str:
    """``text`` with each surrogate code point replaced by U+FFFD (its length is unchanged)."""
    return _SURROGATE.sub(REPLACEMENT, text)


def replace_surrogates_in(value):
    """``value`` read from JSON (str, list, dict, or a number) with every string cleaned by ``replace_surrogates``."""
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, list):
        return [replace_surrogates_in(item) for item in value]
    if isinstance(value, dict):
        return {replace_surrogates(key): replace_surrogates_in(item) for key, item in value.items()}
    return value


def json_depth(value, limit: int) -> int:
    """How deeply ``value`` (parsed JSON) nests lists and objects, counted up to ``limit + 1``.

    Without recursion: a value parsed near Python's recursion limit would exceed it in any
    recursive walk (a comparison, a repr, ``json.dumps``).
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level <= limit:
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


# Markup pasted into a question (an HTML tag, a script, a comment) is not what it asks: "img",
# "src" and "onerror" would be searched for and named as words no document has. An element
# name starts with a letter, so "a < b" and "<3" stay text.
_MARKUP = re.compile(
    r"<(script|style)\b[^>]*>.*?</\1\s*>"  # a script or style with what it holds
    r"|<!--.*?(?:-->|$)"  # a comment
    r"|</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>",  # a tag with its attributes
    re.IGNORECASE | re.DOTALL,
)


def without_markup(text: str) -> str:
    """``text`` with HTML tags, comments, scripts and styles replaced by spaces; ``text`` itself when nothing else is left."""
    stripped = _MARKUP.sub(" ", text)
    return stripped if stripped != text and any(char.isalnum() for char in stripped) else text
