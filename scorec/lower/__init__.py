"""Lowering: a validated Spec -> the IR, one pure function per concern.

Passes run in order: compatibility checks, then each section's derivation. A pass that
finds a mistake raises a SpecError located through the source map (the loaded Document).
"""

from __future__ import annotations

from ..ir import EvalIR, ProgramIR, TrainIR
from ..spec import Spec
from .checks import check_compatibility
from .data import lower_data
from .model import lower_model
from .objective import lower_objective
from .process import lower_process
from .sampler import lower_sampler
from .source import SourceMap


def lower(spec: Spec, source: SourceMap) -> ProgramIR:
    """Run every lowering pass; the result is all the emitter needs."""
    check_compatibility(spec, source)
    process = lower_process(spec.process)
    model = lower_model(spec.model)
    return ProgramIR(
        name=spec.name,
        seed=spec.seed,
        data=lower_data(spec.data),
        process=process,
        model=model,
        objective=lower_objective(spec.objective, process, source),
        train=None if model.network == "analytic" else TrainIR(**spec.train.model_dump()),
        sample=lower_sampler(spec.sample, process, source),
        eval=EvalIR(metrics=tuple(spec.eval.metrics), n_reference=spec.eval.n_reference or spec.sample.n),
    )
