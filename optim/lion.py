"""Lion: the sign of a momentum-like average, so every coordinate moves by exactly lr."""

import numpy as np

from .base import LR, Optimizer, _beta
from .hyper import Hyperparameter


class Lion(Optimizer):
    r"""Lion, "EvoLved Sign Momentum" (Chen et al., 2023, Symbolic Discovery of Optimization Algorithms).

    :math:`c_t = \beta_1 m_{t-1} + (1-\beta_1) g_t`,
    :math:`p \leftarrow p - \eta(\operatorname{sign}(c_t) + \lambda p)`,
    :math:`m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t`.
    Every coordinate steps by exactly ``lr`` (or 0), whatever the gradient's size, so
    it wants a learning rate 3-10 times smaller than Adam's. torch.optim has no Lion.
    """

    name = "lion"
    title = "Lion"
    hyperparameters = (
        LR,
        _beta("beta1", 0.9, "weight of the old average in the direction of this step", r"\beta_1"),
        _beta("beta2", 0.99, "decay rate of the moving average of gradients kept between steps", r"\beta_2"),
        Hyperparameter("weight_decay", 0.0, 0.0, 10.0, doc="decoupled weight decay, pulls weights toward zero",
                       symbol=r"\lambda"),
    )
    rule_latex = (
        r"\begin{aligned} c_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\"
        r" \theta_t &= \theta_{t-1} - \eta \left(\operatorname{sign}(c_t) + \lambda\, \theta_{t-1}\right) \\"
        r" m_t &= \beta_2 m_{t-1} + (1-\beta_2)\, g_t\end{aligned}"
    )
    state_names = ("m",)

    def update(self, g, state, p, lr, t):
        (m,) = state
        c = self.beta1 * m + (1.0 - self.beta1) * g
        m *= self.beta2
        m += (1.0 - self.beta2) * g
        d = np.sign(c)  # a NumPy scalar for a float, an array for an array
        if self.weight_decay:
            d = d + self.weight_decay * p
        return lr * d, (m,)
