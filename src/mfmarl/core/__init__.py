"""Pure math of mean field MARL: mean actions, Boltzmann policies, TD targets, schedules.

Nothing in this room holds state or imports from another room of the package.
"""

from mfmarl.core.errors import ConfigError
from mfmarl.core.mean_action import (
    global_mean_action,
    mean_action,
    one_hot,
    radius_mean_action,
    team_mean_action,
)
from mfmarl.core.policy import boltzmann_log_policy, boltzmann_policy, mean_field_value
from mfmarl.core.schedules import ConstantSchedule, ExponentialSchedule, LinearSchedule, Schedule
from mfmarl.core.targets import double_dqn_target, dqn_target, mfq_target

__all__ = [
    "ConfigError",
    "ConstantSchedule",
    "ExponentialSchedule",
    "LinearSchedule",
    "Schedule",
    "boltzmann_log_policy",
    "boltzmann_policy",
    "double_dqn_target",
    "dqn_target",
    "global_mean_action",
    "mean_action",
    "mean_field_value",
    "mfq_target",
    "one_hot",
    "radius_mean_action",
    "team_mean_action",
]
