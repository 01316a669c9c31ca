import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Deterministic, CPU-only, single-threaded enough to be stable on small machines.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# Kernels derived for `sde` specs are cached in a folder of this test session, not the user's.
if "SCOREC_KERNEL_CACHE" not in os.environ:
    os.environ["SCOREC_KERNEL_CACHE"] = tempfile.mkdtemp(prefix="scorec-kernel-cache-")
    atexit.register(shutil.rmtree, os.environ["SCOREC_KERNEL_CACHE"], True)


@pytest.fixture(autouse=True)
def _torch_seed():
    try:
        import torch
    except ImportError:  # the compiler tests do not need torch
        yield
        return
    torch.manual_seed(0)
    yield


class Runtime(SimpleNamespace):
    """The runtime modules as one namespace (each name is defined in one of them); the modules
    themselves as .runtime, .runtime_parallel, ... for patching a name where it is looked up."""


@pytest.fixture(scope="module")
def rt():
    """templates/runtime*.py, loaded as the Python modules they are (tests/test_runtime*.py)."""
    from emitted import REPO, RUNTIME, load_siblings, restore

    modules, saved = load_siblings(REPO / "templates", RUNTIME, "under_test")
    restore(saved)
    names = {name: value for module in modules.values() for name, value in vars(module).items()
             if not name.startswith("__")}
    return Runtime(**names, **modules)
