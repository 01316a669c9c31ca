"""Sampler components."""
