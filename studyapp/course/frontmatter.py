"""YAML front matter, bounded: a lesson's metadata is a few short `key: value` lines.

`load_front_matter(text)` is `yaml.safe_load` with three limits, so a hostile lesson (a
"billion laughs" of nested aliases, a huge or deeply nested document) can neither hang
`lint` nor exhaust memory in `show`:
- at most `MAX_BYTES` of YAML;
- no aliases (`*name`) at all: anchors and aliases are what such bombs are made of, and a
  lesson's metadata has no use for them;
- at most `MAX_DEPTH` levels of nesting.
Strings come back with control characters as visible escapes (textsafe.safe_text).
Each refusal is a `yaml.MarkedYAMLError` whose `problem_mark` points at the offending
line, so the parser reports it like any other YAML error. Pure: no file system.
"""

from __future__ import annotations

from typing import Any

import yaml

from studyapp.textsafe import safe_text

MAX_BYTES = 16 * 1024
MAX_DEPTH = 20


class FrontMatterLimit(yaml.MarkedYAMLError):
    """Front matter refused for its size, an alias or its depth."""


class _BoundedLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise FrontMatterLimit(problem=f"aliases ('*{event.anchor}') are not allowed in "
                                           "front matter", problem_mark=event.start_mark)
        depth = getattr(self, "_depth", 0) + 1
        if depth > MAX_DEPTH:
            event = self.peek_event()
            raise FrontMatterLimit(problem=f"front matter is nested more than {MAX_DEPTH} "
                                           "levels deep", problem_mark=event.start_mark)
        self._depth = depth
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth - 1


def load_front_matter(text: str) -> Any:
    """The YAML value of `text` (front matter without its `---` lines), bounded."""
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        mark = yaml.Mark("front matter", 0, 0, 0, None, None)
        raise FrontMatterLimit(problem=f"front matter is {size // 1024} KB; at most "
                                       f"{MAX_BYTES // 1024} KB is read", problem_mark=mark)
    loader = _BoundedLoader(text)
    try:
        return _safe(loader.get_single_data())
    finally:
        loader.dispose()


def _safe(value: Any) -> Any:
    """Every string with control characters as visible escapes: a double-quoted YAML
    string can spell them (`"\\x1b"`) even where the file itself has none."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {_safe(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v) for v in value]
    return value
