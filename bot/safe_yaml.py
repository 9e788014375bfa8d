"""YAML written by admins (article front matter, `shows.yaml`), loaded in bounded time and memory.

Why: aliases let a 440-byte file name one list millions of times over (`b: &b [*a, *a, …]`, nine
levels deep). Loading keeps the copies shared, so it is quick, but whatever walks or prints the
values afterwards (a title turned into a string, a bad entry reported) builds every copy: indexing
climbed past 7 GB. So a document whose aliases would add more than MAX_ALIAS_NODES values, or that
puts an alias inside itself, is refused before anything is built from it. Nesting is bounded too:
libyaml stops at 1,000 levels, and the pure-Python parser's RecursionError is reported the same way.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_ALIAS_NODES = 10_000  # values aliases may add; merge keys (`<<: *defaults`) use a few each

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it


class YAMLRefused(yaml.YAMLError):
    """Well-formed YAML that is too costly to build; the message says why."""


class BoundedLoader(_Loader):  # type: ignore[misc, valid-type]
    """The safe loader, checking the composed document before any Python value is built."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        check_aliases(node)
        return self.construct_document(node)


def load(text: str) -> Any:
    """The one YAML document in `text`; raises yaml.YAMLError (YAMLRefused when too costly)."""
    try:
        return yaml.load(text, Loader=BoundedLoader)
    except RecursionError as exc:
        raise YAMLRefused("nested too deeply") from exc


def check_aliases(root: yaml.Node) -> None:
    """Refuse a node graph that aliases make much bigger than the file, or that loops.

    Each node's expanded size (itself plus the expanded sizes of its children) is computed once,
    so this costs the number of distinct nodes, however large the expansion would be."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the path from the root to the node being expanded
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
        elif key in open_nodes:
            raise YAMLRefused("an alias refers to a value that contains it")
        elif key not in sizes:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
    added = sizes[id(root)] - len(sizes)
    if added > MAX_ALIAS_NODES:
        raise YAMLRefused(f"aliases repeat values {added:,} times (at most {MAX_ALIAS_NODES:,} are allowed)")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
