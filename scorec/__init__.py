"""scorec: compile score-based generative model specs into standalone PyTorch programs."""

__version__ = "0.1.0"
