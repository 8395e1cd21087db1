"""Adagrad: per-coordinate steps shrinking with the sum of all past squared gradients."""

from dataclasses import replace

from .base import EPS, LR, Optimizer


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011).

    :math:`s_t = s_{t-1} + g_t^2`, :math:`p \leftarrow p - \eta g_t / (\sqrt{s_t} + \epsilon)`.

    torch: ``torch.optim.Adagrad(lr=lr, eps=eps)`` (``lr_decay=0``, ``initial_accumulator_value=0``).
    """

    name = "adagrad"
    title = "Adagrad"
    hyperparameters = (LR, replace(EPS, default=1e-10))
    rule_latex = (
        r"\begin{aligned} s_t &= s_{t-1} + g_t^2 \\"
        r" \theta_t &= \theta_{t-1} - \eta\, \frac{g_t}{\sqrt{s_t} + \epsilon}\end{aligned}"
    )
    state_names = ("s",)
    torch_equivalent = "torch.optim.Adagrad(lr=lr, eps=eps)"

    def update(self, g, state, p, lr, t):
        (s,) = state
        s += g * g
        denom = s**0.5
        denom += self.eps
        d = g / denom
        d *= lr
        return d, (s,)
