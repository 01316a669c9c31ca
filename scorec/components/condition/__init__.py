"""Condition components: what a conditional model is conditioned on (`model.condition`)."""
