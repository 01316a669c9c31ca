"""Corrector components."""
