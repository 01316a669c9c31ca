"""The lowering stage: a validated Spec -> the IR. passes.py runs the passes; context.py is
what each component's `lower(ctx)` sees."""
