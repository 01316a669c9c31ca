"""The schema stage: the spec's pydantic models assembled from the component registry
(spec.py), validation of a loaded Document with every error located (validate.py), `--set`
overrides (overrides.py), the registry-composed diagnostics (messages.py), and what the
frontend's `.score` loader and the printers ask of the schema (query.py)."""
