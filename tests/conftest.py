import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Deterministic, CPU-only, single-threaded enough to be stable on small machines.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(autouse=True)
def _torch_seed():
    try:
        import torch
    except ImportError:  # the compiler tests do not need torch
        yield
        return
    torch.manual_seed(0)
    yield
