"""Battle on MAgent2 (docs/method.md 6.3): the environment, presets, training runs, the
reproduction and sweeps."""

from mfmarl.experiments.battle.env import BattleConfig, make_battle_env, make_battle_parallel_env

__all__ = ["BattleConfig", "make_battle_env", "make_battle_parallel_env"]
