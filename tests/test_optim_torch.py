"""Step-for-step agreement with torch.optim on Rosenbrock, under the documented mappings.

Run as a script to print the table: ``python tests/test_optim_torch.py``.
Skipped (with a message) where torch is not installed: it is a reference, not a dependency.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from optim import make  # noqa: E402

STEPS = 300
START = (-1.2, 1.0)


def _cases():
    """Return (our name, our hyperparameters, torch factory) triples."""
    torch = pytest.importorskip("torch", reason="torch is not installed; install torch==2.13.0 to compare")
    o = torch.optim
    return [
        ("sgd", dict(lr=1e-3), lambda p: o.SGD(p, lr=1e-3)),
        ("momentum", dict(lr=1e-3, beta=0.9), lambda p: o.SGD(p, lr=1e-3 * (1 - 0.9), momentum=0.9)),
        ("nesterov", dict(lr=1e-3, beta=0.9, nesterov=True),
         lambda p: o.SGD(p, lr=1e-3 * (1 - 0.9), momentum=0.9, nesterov=True)),
        # PyTorch's own form: the same lr, no rescaling (dampening=0 is torch's default)
        ("heavy_ball", dict(lr=1e-3, beta=0.9), lambda p: o.SGD(p, lr=1e-3, momentum=0.9)),
        ("heavy_ball_nesterov", dict(lr=1e-3, beta=0.9, nesterov=True),
         lambda p: o.SGD(p, lr=1e-3, momentum=0.9, nesterov=True)),
        ("rmsprop", dict(lr=1e-3, beta=0.9, eps=1e-4), lambda p: o.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-4)),
        ("adam", dict(lr=1e-2), lambda p: o.Adam(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8)),
        ("adagrad", dict(lr=1e-1, eps=1e-10), lambda p: o.Adagrad(p, lr=1e-1, eps=1e-10)),
        ("adamw", dict(lr=1e-2, weight_decay=0.1),
         lambda p: o.AdamW(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)),
        ("sgd+cosine", dict(lr=1e-3, schedule="cosine", schedule_params={"total_steps": STEPS}),
         lambda p: o.SGD(p, lr=1e-3)),
    ]


def _rosenbrock_grad(torch, xy):
    t = torch.tensor(xy, dtype=torch.float64, requires_grad=True)
    f = (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2
    f.backward()
    return t.grad.numpy().copy()


def max_difference(name, hp, torch_factory) -> float:
    """Return the largest |ours - torch| over STEPS steps of both on Rosenbrock."""
    import torch

    ours = make({"nesterov": "momentum", "heavy_ball_nesterov": "heavy_ball"}.get(name, name.split("+")[0]), **hp)
    p = np.array(START, dtype=np.float64)
    tp = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    topt = torch_factory([tp])
    sched = None
    if "+cosine" in name:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=STEPS, eta_min=0.0)
    worst = 0.0
    for _ in range(STEPS):
        ours.step([p], [_rosenbrock_grad(torch, p)])
        topt.zero_grad()
        f = (1 - tp[0]) ** 2 + 100 * (tp[1] - tp[0] ** 2) ** 2
        f.backward()
        topt.step()
        if sched is not None:
            sched.step()
        worst = max(worst, float(np.max(np.abs(p - tp.detach().numpy()))))
    return worst


@pytest.mark.parametrize("case", range(10))
def test_matches_torch_step_for_step(case):
    name, hp, factory = _cases()[case]
    diff = max_difference(name, hp, factory)
    print(f"{name:>12}: max |ours - torch| over {STEPS} steps = {diff:.3e}")
    assert diff < 1e-10, f"{name} drifts from torch.optim by {diff:.3e}"


if __name__ == "__main__":
    print(f"Largest difference from torch.optim over {STEPS} steps on Rosenbrock from {START}:")
    for name, hp, factory in _cases():
        print(f"  {name:>12}  {max_difference(name, hp, factory):.3e}")
