"""Gradient descent with momentum, in the article's exponential-moving-average form.

``OVERLAP_NOTE`` is the sentence for the app to show where SGD's and momentum's
curves lie on top of each other at the same learning rate.
"""

from .base import LR, Optimizer, _beta
from .hyper import Hyperparameter

#: why SGD and moving-average momentum draw nearly the same curve at the same lr, for the app to show there
OVERLAP_NOTE = (
    "At the same learning rate, moving-average momentum takes steps of the same size as SGD's, only "
    "smoothed, so where the gradient changes slowly the two curves lie on top of each other: momentum "
    "is not doing nothing, it is averaging gradients that hardly differ. PyTorch's heavy-ball form "
    "(v = beta v + g, here \"Heavy-ball momentum\") takes steps up to 1/(1 - beta) times larger, 10 times at "
    "beta = 0.9: it equals moving-average momentum run with lr / (1 - beta)."
)

BETA = _beta("beta", 0.9, "momentum, the decay rate of the moving average of gradients", r"\beta")
NESTEROV = Hyperparameter(
    "nesterov", False, kind=bool, doc="Nesterov look-ahead, step along the updated average", symbol="N",
)


class Momentum(Optimizer):
    r"""Momentum as the article states it: an exponential moving average of gradients.

    :math:`v_t = \beta v_{t-1} + (1-\beta) g_t`, :math:`p \leftarrow p - \eta v_t`;
    with ``nesterov=True`` the step looks ahead: :math:`p \leftarrow p - \eta(\beta v_t + (1-\beta) g_t)`.

    ``v`` is a weighted average of gradients (weights summing to at most 1), so a
    step is never longer than ``lr`` times the largest gradient seen so far:
    this form smooths SGD's steps, it does not lengthen them. PyTorch's heavy-ball form (``HeavyBall``,
    ``v = beta v + g``) takes steps up to 1/(1-beta) times larger than this
    form at the same ``lr``.

    torch: ``torch.optim.SGD(lr=lr * (1 - beta), momentum=beta, nesterov=nesterov)``
    gives the same iterates step for step (its buffer is ``v / (1 - beta)``).
    With ``beta = 0`` this is plain SGD.
    """

    name = "momentum"
    title = "Momentum"
    hyperparameters = (LR, BETA, NESTEROV)
    rule_latex = (
        r"\begin{aligned} v_t &= \beta\, v_{t-1} + (1-\beta)\, g_t \\"
        r" \theta_t &= \theta_{t-1} - \eta\, v_t"
        r" \quad\text{(Nesterov: } \theta_t = \theta_{t-1} - \eta\,(\beta v_t + (1-\beta) g_t)\text{)} \\"
        r" &\text{steps as large as SGD's, only smoothed; the heavy ball} \\"
        r" &(v_t = \beta v_{t-1} + g_t) \text{ takes steps up to } \tfrac{1}{1-\beta} \text{ times larger}\end{aligned}"
    )
    state_names = ("v",)
    torch_equivalent = "torch.optim.SGD(lr=lr*(1-beta), momentum=beta, nesterov=nesterov)"
    note = OVERLAP_NOTE

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
