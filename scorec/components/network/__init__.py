"""Network components."""
