"""Learning-rate schedules: the factor by which the base learning rate is multiplied at step t.

``t`` counts update steps from 1, like the optimizers' step count. Each schedule
equals a ``torch.optim.lr_scheduler`` stepped once after every optimizer step
(the mapping is in each docstring), so step t uses ``k = t - 1`` scheduler steps.
"""

from __future__ import annotations

import math

from .hyper import Hyperparameter, HyperparameterError, validate_all


class Schedule:
    """Base class: a declared, validated learning-rate schedule."""

    name = "constant"
    title = "Constant"
    hyperparameters: tuple[Hyperparameter, ...] = ()
    latex = r"\eta_t = \eta"

    def __init__(self, **hp):
        self.hp = validate_all(self.hyperparameters, hp, f"schedule '{self.name}'")
        for k, v in self.hp.items():
            setattr(self, k, v)

    def factor(self, t: int) -> float:
        """Return the multiplier of the base learning rate at step t (t >= 1)."""
        return 1.0

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hp.items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same learning rate at every step."""


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` steps (torch ``StepLR``)."""

    name = "step"
    title = "Step decay"
    hyperparameters = (
        Hyperparameter("step_size", 100, 1, 1_000_000, kind=int, doc="steps between two decays", symbol="k"),
        Hyperparameter("gamma", 0.5, 0.0, 1.0, low_open=True, doc="factor applied at each decay", symbol=r"\gamma"),
    )
    latex = r"\eta_t = \eta\,\gamma^{\lfloor (t-1)/k \rfloor}"

    def factor(self, t):
        return self.gamma ** ((t - 1) // self.step_size)


class Exponential(Schedule):
    """Multiply the rate by ``gamma`` after every step (torch ``ExponentialLR``)."""

    name = "exponential"
    title = "Exponential decay"
    hyperparameters = (
        Hyperparameter("gamma", 0.99, 0.0, 1.0, low_open=True, doc="factor applied after every step", symbol=r"\gamma"),
    )
    latex = r"\eta_t = \eta\,\gamma^{t-1}"

    def factor(self, t):
        return self.gamma ** (t - 1)


class Cosine(Schedule):
    """Cosine annealing from the base rate down to ``lr_min_ratio`` times it over ``total_steps`` (torch ``CosineAnnealingLR`` with ``T_max=total_steps``, ``eta_min=lr*lr_min_ratio``)."""

    name = "cosine"
    title = "Cosine annealing"
    hyperparameters = (
        Hyperparameter("total_steps", 1000, 1, 1_000_000, kind=int, doc="steps of one half cosine period", symbol="T"),
        Hyperparameter("lr_min_ratio", 0.0, 0.0, 1.0, doc="final rate as a fraction of the base rate", symbol=r"\rho"),
    )
    latex = r"\eta_t = \eta\left(\rho + (1-\rho)\,\tfrac{1}{2}\left(1+\cos\tfrac{\pi (t-1)}{T}\right)\right)"

    def factor(self, t):
        r = self.lr_min_ratio
        return r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * (t - 1) / self.total_steps))


class InverseTime(Schedule):
    """The 1/t decay of stochastic approximation: ``lr / (1 + decay * (t - 1))``."""

    name = "inverse_time"
    title = "1/t decay"
    hyperparameters = (
        Hyperparameter("decay", 0.01, 0.0, 1e3, log=False, doc="how fast the rate falls with the step count", symbol=r"\kappa"),
    )
    latex = r"\eta_t = \frac{\eta}{1 + \kappa (t-1)}"

    def factor(self, t):
        return 1.0 / (1.0 + self.decay * (t - 1))


SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls for cls in (Constant, StepDecay, Exponential, Cosine, InverseTime)
}


def make_schedule(name: str | Schedule | None = None, **hp) -> Schedule:
    """Return a schedule from its name (or pass one through); ``None`` means constant."""
    if isinstance(name, Schedule):
        if hp:
            raise HyperparameterError("give schedule settings either in the object or as arguments, not both")
        return name
    if name is None:
        name = "constant"
    try:
        cls = SCHEDULES[name]
    except (KeyError, TypeError):
        raise HyperparameterError(
            f"unknown learning-rate schedule {name!r}; choose one of {', '.join(SCHEDULES)}"
        ) from None
    return cls(**hp)
