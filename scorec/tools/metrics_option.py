"""`scorec eval RUN --metrics NAME,...`: the metrics it adds to the run's eval.metrics.

The option becomes a generated `--set eval.metrics=[...]`, text the user never typed; so an unknown
name is refused here, in the option's own words, and a diagnostic the compiler locates at an added
name in the generated override is moved back onto that name as the user wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..core.diagnostics import Span, SpecError, did_you_mean
from ..metrics import registry

OPTION = "--metrics"  # the label of diagnostics located in the option's text


@dataclass
class MetricsOption:
    text: str  # as a diagnostic quotes it: "--metrics nll,c2st"
    names: dict[str, Span]  # each name as written -> where it is in `text`
    _at: dict[int, str] = field(default_factory=dict)  # column in the generated override -> added name

    @classmethod
    def parse(cls, value: str) -> "MetricsOption":
        text = f"{OPTION} {value}"
        names, start = {}, len(OPTION) + 1
        for part in value.split(","):
            name = part.strip()
            if name and name not in names:
                col = start + part.index(name) + 1
                names[name] = Span(OPTION, 1, col, 1, col + len(name))
            start += len(part) + 1
        return cls(text, names)

    def unknown(self) -> list[SpecError]:
        """An error for each name that is no registered metric, with the registry's hint."""
        known = registry.names()
        return [SpecError(f"unknown metric '{name}' in {OPTION}", span,
                          did_you_mean(name, known) or f"one of: {', '.join(known)}", code="E0206")
                for name, span in self.names.items() if name not in known]

    def override(self, current: list[str]) -> str | None:
        """`eval.metrics=[...]`: `current` and the names it lacks (None when it lacks none)."""
        added = [name for name in self.names if name not in current]
        if not added:
            return None
        text = "eval.metrics=["
        for i, name in enumerate([*current, *added]):
            text += ", " if i else ""
            if i >= len(current):
                self._at[len(text) + 1] = name
            text += name
        return text + "]"

    def relocated(self, error: SpecError, label: str) -> SpecError:
        """`error`, pointing at the name in the option's text when it points at an added name in the
        generated override (whose diagnostics are labelled `label`)."""
        span = error.span
        if span is None or span.file != label or span.line != 1 or span.col not in self._at:
            return error
        return replace(error, span=self.names[self._at[span.col]])
