"""Components, one module each, grouped by family (DESIGN.md §2); see registry.py."""
