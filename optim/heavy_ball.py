"""Gradient descent with momentum in PyTorch's heavy-ball form: a running sum of gradients."""

from .base import LR, Optimizer
from .momentum import BETA, NESTEROV, OVERLAP_NOTE


class HeavyBall(Optimizer):
    r"""Momentum as ``torch.optim.SGD`` computes it (Polyak's heavy ball, Sutskever et al.'s Nesterov).

    :math:`v_t = \beta v_{t-1} + g_t`, :math:`p \leftarrow p - \eta v_t`;
    with ``nesterov=True``: :math:`p \leftarrow p - \eta(g_t + \beta v_t)`.

    ``v`` sums past gradients with weights 1, beta, beta^2, ... (up to
    1/(1-beta) in total), so on a steady slope a step is up to 1/(1-beta) times
    larger than the moving-average form (``Momentum``) at the same ``lr``: ten
    times at beta = 0.9. The iterates equal ``Momentum`` with ``lr / (1 - beta)``.

    torch: ``torch.optim.SGD(lr=lr, momentum=beta, nesterov=nesterov)`` (``dampening=0``).
    """

    name = "heavy_ball"
    title = "Heavy-ball momentum"
    hyperparameters = (LR, BETA, NESTEROV)
    rule_latex = (
        r"\begin{aligned} v_t &= \beta\, v_{t-1} + g_t \\"
        r" \theta_t &= \theta_{t-1} - \eta\, v_t"
        r" \quad\text{(Nesterov: } \theta_t = \theta_{t-1} - \eta\,(g_t + \beta v_t)\text{)} \\"
        r" &\text{steps up to } \tfrac{1}{1-\beta} \text{ times larger than the moving-average} \\"
        r" &\text{form } (v_t = \beta v_{t-1} + (1-\beta) g_t) \text{ at the same } \eta\end{aligned}"
    )
    state_names = ("v",)
    torch_equivalent = "torch.optim.SGD(lr=lr, momentum=beta, nesterov=nesterov)"
    note = OVERLAP_NOTE

    def update(self, g, state, p, lr, t):
        (v,) = state
        v *= self.beta
        v += g
        if self.nesterov:
            d = self.beta * v
            d += g
            d *= lr
            return d, (v,)
        return lr * v, (v,)
