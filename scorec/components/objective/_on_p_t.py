"""What the objectives on samples of p_t share (ism, ssm): they need no x_0, so on process
`none` they fit the data density itself, and on a noising process they fit the score of p_t
at samples x_t, weighted by sigma(t)^2 (their fragments include objective/_sample_of_p_t.py.j2)."""

from __future__ import annotations


def weighting(ctx) -> tuple[bool, str]:
    """(whether the loss is weighted by sigma(t)^2, how its equation begins)."""
    weighted = not ctx.has("process", "timeless")
    return weighted, "E " + ("sigma(t)^2 " if weighted else "")
