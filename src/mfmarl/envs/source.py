"""Where an environment comes from, written down so that a run can build it again.

An :class:`EnvSource` is a factory ``"module:function"`` and its keyword arguments, plus how
to adapt what it returns: a :class:`~mfmarl.envs.base.MultiGroupEnv` is used as it is; a MAgent2
PettingZoo env goes through the fast :class:`~mfmarl.envs.magent2.MAgent2Env`; any other
PettingZoo ``ParallelEnv`` through :class:`~mfmarl.envs.pettingzoo.ParallelEnvAdapter`.
Runs record their source in ``config.json``; ``resume``, ``battle``, ``tournament`` and
``render`` build the same environment from it.

Importing a module runs its code, so a source read from a file is only built when its factory
lives in a package mfmarl trusts (mfmarl, magent2, pettingzoo) or the caller says the factory
is trusted (the user typed it, ``--env MODULE:FACTORY``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mfmarl.core.errors import ConfigError, require
from mfmarl.envs.base import MultiGroupEnv

TRUSTED_PACKAGES = ("mfmarl", "magent2", "pettingzoo", "mpe2")
PLAYED_ON = {
    "mfmarl.experiments.battle.env:make_mirrored_battle_parallel_env": (
        "mfmarl.experiments.battle.env:make_battle_env"
    ),
}
"""Factories whose runs play their matches on another factory of the same game and settings
(the Battle experiment trained through the generic adapter plays on the fast path, which has
the scripted players and the agents' positions)."""


def load_factory(spec: str) -> Any:
    """``"package.module:function"`` -> the function (a ConfigError naming what is wrong).
    Modules in the current directory are found too, as ``python -m`` finds them."""
    module_name, sep, attr = spec.partition(":")
    require(
        bool(sep) and bool(module_name) and bool(attr),
        f"env factory {spec!r}: expected MODULE:FACTORY, e.g. mypkg.envs:make_env",
    )
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:  # as `python -m` does: modules beside you
        sys.path.append(cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"env factory {spec!r}: cannot import {module_name} ({exc})") from exc
    factory: Any = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        require(factory is not None, f"env factory {spec!r}: {module_name} has no {attr}")
    require(callable(factory), f"env factory {spec!r} is not callable")
    return factory


def is_multigroup(env: Any) -> bool:
    return hasattr(env, "groups") and hasattr(env, "step") and hasattr(env, "episode_info")


def is_magent2(env: Any) -> bool:
    try:
        from magent2.environments.magent_env import magent_parallel_env
    except ImportError:
        return False
    return isinstance(env, magent_parallel_env)


def adapt(env: Any, adapter: Mapping[str, Any] | None = None) -> MultiGroupEnv:
    """Wrap what a factory returned (see the module docstring). ``adapter`` holds the
    adapter's options: ``groups`` (PettingZoo) or ``mirror``, ``end_when_empty``,
    ``features``, ``max_steps``, ``fast`` (MAgent2; ``fast=False`` uses the generic
    PettingZoo adapter instead)."""
    options = dict(adapter or {})
    if is_multigroup(env):
        require(not options, "options are for PettingZoo environments only")
        return env  # type: ignore[no-any-return]
    if is_magent2(env) and options.pop("fast", True):
        from mfmarl.envs.magent2 import MAgent2Env

        allowed = {"mirror", "end_when_empty", "features", "max_steps", "name"}
        unknown = sorted(set(options) - allowed)
        require(not unknown, f"MAgent2 adapter: unknown option(s) {', '.join(unknown)}")
        return MAgent2Env(env, **options)
    from mfmarl.envs.pettingzoo import ParallelEnvAdapter

    unknown = sorted(set(options) - {"groups", "continuing"})
    require(not unknown, f"PettingZoo adapter: unknown option(s) {', '.join(unknown)}")
    require(
        hasattr(env, "possible_agents") and hasattr(env, "step"),
        f"the factory returned {type(env).__name__}, not a PettingZoo ParallelEnv",
    )
    return ParallelEnvAdapter(env, **options)


@dataclass(frozen=True)
class EnvSource:
    """A factory ``"module:function"``, its keyword arguments and the adapter's options."""

    factory: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    adapter: Mapping[str, Any] = field(default_factory=dict)

    def played_on(self) -> EnvSource:
        """The source that matches of this source's runs are played on (:data:`PLAYED_ON`)."""
        factory = PLAYED_ON.get(self.factory)
        return self if factory is None else EnvSource(factory, dict(self.kwargs))

    def trusted(self) -> bool:
        return self.factory.split(".", 1)[0].split(":", 1)[0] in TRUSTED_PACKAGES

    def build(self, trust: bool = False) -> MultiGroupEnv:
        """Import the factory, call it and adapt the result. Raises a ConfigError for a
        factory outside :data:`TRUSTED_PACKAGES` unless ``trust`` (the user named it)."""
        require(
            trust or self.trusted(),
            f"the run's environment factory {self.factory} is not part of mfmarl, magent2 "
            "or pettingzoo: name it yourself with --env MODULE:FACTORY to run it",
        )
        factory = load_factory(self.factory)
        try:
            env = factory(**dict(self.kwargs))
        except ConfigError:
            raise
        except TypeError as exc:
            raise ConfigError(f"env factory {self.factory}: bad arguments ({exc})") from exc
        return adapt(env, self.adapter)

    def to_dict(self) -> dict[str, Any]:
        return {"factory": self.factory, "kwargs": dict(self.kwargs), "adapter": dict(self.adapter)}

    @staticmethod
    def from_dict(data: Any) -> EnvSource:
        try:
            return EnvSource(
                str(data["factory"]),
                dict(data.get("kwargs") or {}),
                dict(data.get("adapter") or {}),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"not an environment record ({exc})") from exc
