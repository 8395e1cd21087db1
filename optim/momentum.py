"""Gradient descent with momentum, in the exponential-moving-average form."""

from .base import LR, Optimizer, _beta
from .hyper import Hyperparameter


class Momentum(Optimizer):
    r"""Momentum as the article states it: an exponential moving average of gradients.

    :math:`v_t = \beta v_{t-1} + (1-\beta) g_t`, :math:`p \leftarrow p - \eta v_t`;
    with ``nesterov=True`` the step looks ahead: :math:`p \leftarrow p - \eta(\beta v_t + (1-\beta) g_t)`.

    torch: ``torch.optim.SGD(lr=lr * (1 - beta), momentum=beta, nesterov=nesterov)``
    gives the same iterates step for step (its buffer is ``v / (1 - beta)``).
    With ``beta = 0`` this is plain SGD.
    """

    name = "momentum"
    title = "Momentum"
    hyperparameters = (
        LR,
        _beta("beta", 0.9, "momentum, the decay rate of the moving average of gradients", r"\beta"),
        Hyperparameter("nesterov", False, kind=bool, doc="Nesterov look-ahead, step along the updated average", symbol="N"),
    )
    rule_latex = (
        r"\begin{aligned} v_t &= \beta\, v_{t-1} + (1-\beta)\, g_t \\"
        r" \theta_t &= \theta_{t-1} - \eta\, v_t"
        r" \quad\text{(Nesterov: } \theta_t = \theta_{t-1} - \eta\,(\beta v_t + (1-\beta) g_t)\text{)}\end{aligned}"
    )
    state_names = ("v",)
    torch_equivalent = "torch.optim.SGD(lr=lr*(1-beta), momentum=beta, nesterov=nesterov)"

    def update(self, g, state, p, lr, t):
        (v,) = state
        b = self.beta
        v *= b
        v += (1.0 - b) * g
        if self.nesterov:
            d = b * v
            d += (1.0 - b) * g
            d *= lr
            return d, (v,)
        return lr * v, (v,)
