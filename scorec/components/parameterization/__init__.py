"""Parameterization components."""
