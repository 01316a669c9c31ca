"""What lowering needs of the source: where a spec path came from."""

from __future__ import annotations

from typing import Protocol

from ..diagnostics import Span


class SourceMap(Protocol):
    def span_of(self, path: tuple, key: bool = False) -> Span: ...

    def text_span(self, path: tuple) -> Span | None: ...
