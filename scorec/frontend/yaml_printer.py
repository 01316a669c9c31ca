"""Canonical YAML text: from spec data (`fmt --to yaml`), or by reformatting a YAML file.

Canonical YAML orders keys as the caller's Layout gives them (frontend/layout.py) and is
written by ruamel.yaml: two-space indents, sections as block mappings, mappings inside a
section and every list in flow style, strings quoted only where a plain scalar would
read back as something else or holds formula characters ("sigma(t)**2").

Reformatting a YAML file goes through ruamel's round-trip loader, which keeps comments,
quoting and the flow/block style of each collection, and only reorders keys. Comments
are attached to keys by ruamel, so they move with their key; `lost_comments` tells which
comments (if any) the output no longer holds, so a caller can say so rather than drop
them silently.
"""

from __future__ import annotations

import io
import re
from typing import Any

from .layout import Layout, ordered_keys
from .source import resolve_plain

WIDTH = 100  # a flow mapping longer than this is written in block style
_NO_WRAP = 4096  # ruamel never breaks a line: its wrapping of flow collections is hard to read
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)
    yaml.version = None
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = _NO_WRAP
    yaml.preserve_quotes = True
    return yaml


def to_yaml(data: dict, *, layout: Layout) -> str:
    """Canonical YAML text of spec data, keys ordered by `layout` (no comments: data carries none)."""
    from ruamel.yaml.comments import CommentedMap

    root = CommentedMap()
    for key in ordered_keys(layout, data, (), data):
        root[key] = _node(data[key], (key,), data, layout)
    return _dump(root)


def _node(value: Any, path: tuple, data: dict, layout: Layout) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, dict):
        node = CommentedMap()
        for key in ordered_keys(layout, value, path, data):
            node[key] = _node(value[key], path + (key,), data, layout)
        if len(path) > 1:
            node.fa.set_flow_style()
        _block_if_long(node, path)
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_node(v, path + (i,), data, layout) for i, v in enumerate(value))
        seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and not (_PLAIN.fullmatch(value) and resolve_plain(value) == value):
        return DoubleQuotedScalarString(value)
    return value


def _block_if_long(node: Any, path: tuple) -> None:
    """Write a flow mapping in block style where its one line would pass WIDTH columns."""
    if not path or not node.fa.flow_style():
        return
    from ruamel.yaml.comments import CommentedMap

    bare = CommentedMap(node.items())  # without the comments ruamel attached to the node
    bare.fa.set_flow_style()
    indent = 2 * (len(path) - 1)
    line = _dump({path[-1]: bare}).rstrip("\n")
    if "\n" in line or indent + len(line) > WIDTH:
        node.fa.set_block_style()


def _dump(root: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(root, stream)
    return stream.getvalue()


def format_yaml(text: str, data: dict, *, layout: Layout) -> str:
    """`text` (a YAML spec whose strictly loaded data is `data`) with keys in `layout`'s order."""
    root = _yaml().load(text)
    _reorder(root, (), data, layout)
    return _dump(root).lstrip("\n")  # ruamel drops one of several leading blank lines per pass


def _reorder(node: Any, path: tuple, data: dict, layout: Layout) -> None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        for key in ordered_keys(layout, node, path, data):
            node.move_to_end(key)
        for key, value in node.items():
            _reorder(value, path + (key,), data, layout)
        _block_if_long(node, path)
    elif isinstance(node, CommentedSeq):
        for i, value in enumerate(node):
            _reorder(value, path + (i,), data, layout)


def comments_of(text: str) -> list[str]:
    """The text of every `# comment` in a YAML text."""
    return [comment for _, _, comment in located_comments(text)]


def located_comments(text: str) -> list[tuple[int, int, str]]:
    """(line, col, text) of every comment: a `#` outside quotes, after a blank or at a line's start."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        quote = None
        for i, ch in enumerate(line):
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"" and (i == 0 or line[i - 1] in " \t[{,:-"):
                quote = ch
            elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
                found.append((number, i + 1, line[i:].rstrip()))
                break
    return found


def yaml_comments(doc: Any) -> tuple[dict, list[str]]:
    """A YAML spec's comments attached to key paths, as the .score printer takes them:
    a comment after a key on its line goes after that key's statement, a comment on a
    line of its own before the next key's."""
    from .score_loader import Comment

    keys = sorted((span.line, span.col, path) for path, span in doc.key_spans.items())
    attached: dict[tuple, Comment] = {}
    trailing: list[str] = []
    for line, col, text in located_comments(doc.source):
        on_line = [path for key_line, key_col, path in keys if key_line == line and key_col < col]
        following = [path for key_line, key_col, path in keys if (key_line, key_col) > (line, col)]
        if on_line:
            entry = attached.setdefault(on_line[0], Comment())
            entry.after = text if entry.after is None else f"{entry.after} {text}"
        elif following:
            attached.setdefault(following[0], Comment()).before.append(text)
        else:
            trailing.append(text)
    return attached, trailing


def lost_comments(before: str, after: str) -> list[str]:
    """Comments of `before` that `after` does not hold (as many times as written)."""
    remaining = comments_of(after)
    lost = []
    for comment in comments_of(before):
        if comment in remaining:
            remaining.remove(comment)
        else:
            lost.append(comment)
    return lost
