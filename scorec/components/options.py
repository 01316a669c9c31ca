"""What every component's options model is built from: strict sections and checked numbers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from ..core.diagnostics import OPTIONS_CONFLICT

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
# Counts are bounded so that a 4000-digit integer is a located range error, not an NFE to print.
MAX_COUNT = 2**31
PositiveInt = Annotated[int, Field(gt=0, lt=MAX_COUNT)]
NonNegativeInt = Annotated[int, Field(ge=0, lt=MAX_COUNT)]
Probability = Annotated[float, Field(gt=0, lt=1)]


def int_choice(*values: int) -> Any:
    """Literal[values] for integers (`order: int_choice(1, 2, 3)`) that takes neither `true` (== 1)
    nor `2.0` (== 2) as one of them: pydantic's Literal compares by equality, even in strict mode."""
    expected = " or ".join(map(str, values)) if len(values) < 3 else \
        ", ".join(map(str, values[:-1])) + f" or {values[-1]}"  # pydantic's wording, which validate.py reads

    def exact(value: Any) -> Any:
        if isinstance(value, (bool, float)):
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return value

    return Annotated[Literal[values], BeforeValidator(exact)]


class Section(BaseModel):
    """Base of every spec section: unknown keys are errors, numbers are strict."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FieldError(ValueError):
    """A model-level check that fails because of the values of `fields` (in order of
    mention): the diagnostic points at the one the user (or a --set override) wrote last.
    Its code (core/codes.py) is E0209, options that do not fit together, unless given."""

    def __init__(self, fields: tuple[str | tuple, ...], message: str, hint: Any = None, code: str = OPTIONS_CONFLICT):
        super().__init__(message)
        self.fields = fields  # each a key of the model, or a path below it
        self.hint = hint  # words, or a core.hints.Hint with fixes (paths relative to the model)
        self.code = code


def ordered(model: BaseModel, low: str, high: str) -> None:
    """Raise FieldError unless model.low < model.high."""
    a, b = getattr(model, low), getattr(model, high)
    if not a < b:
        raise FieldError((low, high), f"{low} ({a:g}) must be smaller than {high} ({b:g})")
