"""Predictor components."""
