"""A run's emitted programs, imported into this process once: the one way scorec's evaluation,
metrics and report reach a run's code (RUN_DIR/code).

The emitted sample.py imports `from common import ...` and `from runtime... import ...` after
putting its folder on sys.path. Here every module of the run is imported under a name of its own
(one per run directory, so several runs can be open in one process), and while one is executed
`common` and the runtime modules name this run's: sample.py and the metrics see the same objects.
What scorec uses of the programs is their public entry points: sample.py's load_network,
load_model(run_dir, device) and draw_batch(model, x, generator, callback), where
callback(step, x) sees the sampler's state after each step.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ..emit.render import RUNTIME_MODULES

# What the programs import from their own folder by name, in dependency order: each imports only
# those before it (the runtime modules one another, in RUNTIME_MODULES' order).
SIBLINGS = (*(Path(name).stem for name in RUNTIME_MODULES), "common")


class RunProgram:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.code_dir = self.run_dir / "code"
        self._modules: dict[str, ModuleType] = {}
        self._models: dict[str, object] = {}

    def module(self, name: str) -> ModuleType:
        """code/<name>.py, imported once (the siblings it imports resolved to this run's)."""
        if name not in self._modules:
            before = SIBLINGS[:SIBLINGS.index(name)] if name in SIBLINGS else SIBLINGS
            siblings = {s: self.module(s) for s in before}
            self._modules[name] = self._import(name, siblings)
        return self._modules[name]

    def _import(self, name: str, siblings: dict[str, ModuleType]) -> ModuleType:
        path = self.code_dir / f"{name}.py"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (the run's code is written by scorec run)")
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        unique = f"scorec_run_{digest}_{name}"
        spec = importlib.util.spec_from_file_location(unique, path)
        module = importlib.util.module_from_spec(spec)
        saved = {s: sys.modules.get(s) for s in siblings}
        saved_path = list(sys.path)
        sys.modules[unique] = module  # dataclasses, pickling and torch.compile look modules up by name
        sys.modules.update(siblings)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(unique, None)
            raise
        finally:
            for s, old in saved.items():
                if old is None:
                    sys.modules.pop(s, None)
                else:
                    sys.modules[s] = old
            sys.path[:] = saved_path
        return module

    @property
    def common(self) -> ModuleType:
        return self.module("common")

    @property
    def runtime(self) -> ModuleType:
        return self.module("runtime")

    @property
    def sample(self) -> ModuleType:
        return self.module("sample")

    def network(self, device: str = "cpu"):
        """The network with the run's EMA weights (sample.py's load_network; exact networks load nothing)."""
        import torch

        return self.sample.load_network(str(self.run_dir), torch.device(device))

    def model(self, device: str = "cpu"):
        """The ScoreModel that sample.py draws with (its sampler prepared), loaded once per device."""
        if device not in self._models:
            import torch

            self._models[device] = self.sample.load_model(str(self.run_dir), torch.device(device))
        return self._models[device]
