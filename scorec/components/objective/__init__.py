"""Objective components."""
