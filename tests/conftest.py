import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

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
