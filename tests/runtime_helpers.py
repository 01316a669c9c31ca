"""What tests/test_runtime*.py share (the runtime modules themselves are conftest.py's `rt` fixture)."""

from __future__ import annotations

import pytest
import torch

HASH = "a" * 64  # a training hash


def one_line_exit(capsys, code, call, *args, **kwargs):
    """Run call(...), which must exit with `code` and one line on stderr; return that line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        call(*args, **kwargs)
    err = capsys.readouterr().err
    assert stopped.value.code == code, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def small_model(seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2)
    net(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    return net, optimizer
