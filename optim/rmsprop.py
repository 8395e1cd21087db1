"""RMSProp: divide each step by a running root-mean-square of recent gradients."""

from dataclasses import replace

from .base import EPS, LR, Optimizer, _beta


class RMSProp(Optimizer):
    r"""RMSProp (Tieleman & Hinton, 2012, lecture 6e).

    :math:`s_t = \beta s_{t-1} + (1-\beta) g_t^2`, :math:`p \leftarrow p - \eta g_t / (\sqrt{s_t} + \epsilon)`.

    torch: ``torch.optim.RMSprop(lr=lr, alpha=beta, eps=eps)``.
    """

    name = "rmsprop"
    title = "RMSProp"
    hyperparameters = (
        LR,
        _beta("beta", 0.9, "decay rate of the moving average of squared gradients", r"\beta"),
        replace(EPS, default=1e-4),
    )
    rule_latex = (
        r"\begin{aligned} s_t &= \beta\, s_{t-1} + (1-\beta)\, g_t^2 \\"
        r" \theta_t &= \theta_{t-1} - \eta\, \frac{g_t}{\sqrt{s_t} + \epsilon}\end{aligned}"
    )
    state_names = ("s",)
    torch_equivalent = "torch.optim.RMSprop(lr=lr, alpha=beta, eps=eps)"

    def update(self, g, state, p, lr, t):
        (s,) = state
        b = self.beta
        s *= b
        s += (1.0 - b) * (g * g)
        denom = s**0.5
        denom += self.eps
        d = g / denom
        d *= lr
        return d, (s,)
