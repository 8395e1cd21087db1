"""AdamW: Adam with weight decay decoupled from the gradient."""

from .adam import BETA1, BETA2, adam_direction
from .base import EPS, LR, Optimizer
from .hyper import Hyperparameter


class AdamW(Optimizer):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam plus :math:`\eta \lambda p` subtracted directly.

    :math:`p \leftarrow p - \eta(\lambda p + \hat m / (\sqrt{\hat s} + \epsilon))`, moments as in Adam.

    torch: ``torch.optim.AdamW(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)``.
    """

    name = "adamw"
    title = "AdamW"
    hyperparameters = (
        LR, BETA1, BETA2, EPS,
        Hyperparameter("weight_decay", 0.01, 0.0, 10.0, doc="decoupled weight decay, pulls weights toward zero", symbol=r"\lambda"),
    )
    rule_latex = (
        r"\begin{aligned} m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \quad"
        r" s_t = \beta_2 s_{t-1} + (1-\beta_2)\, g_t^2 \\"
        r" \hat m_t &= \frac{m_t}{1-\beta_1^t}, \quad \hat s_t = \frac{s_t}{1-\beta_2^t} \\"
        r" \theta_t &= \theta_{t-1} - \eta \left(\lambda\, \theta_{t-1} + \frac{\hat m_t}{\sqrt{\hat s_t} + \epsilon}\right)\end{aligned}"
    )
    state_names = ("m", "s")
    torch_equivalent = "torch.optim.AdamW(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)"

    def update(self, g, state, p, lr, t):
        d, m, s = adam_direction(self, g, state[0], state[1], t, lr)
        d += (lr * self.weight_decay) * p
        return d, (m, s)
