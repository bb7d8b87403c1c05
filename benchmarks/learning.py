"""Gradient updates per second of MF-Q and MF-AC against a bare torch loop on the same batch.

    python benchmarks/learning.py [--updates 100] [--repeats 3]

Both sides start from the same networks (copies of the learner's) and train on the same
batch of one stored 64 v 64 step (batch 64, the paper's preset: view networks, Adam lr 1e-4,
soft target τ 0.005, gradient clipping 10). The bare loop is what one would write by hand
with plain torch: the same forward passes, losses, backward passes, Adam steps (fused
kernel, the fastest torch offers on a CPU; a column also shows torch's default Adam) and
soft updates, with no learner around it. Writes ``benchmarks/results/learning.json``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import time

import numpy as np
import torch
from common import interleaved_best, table, write_result
from torch import nn

from mfmarl.algorithms import Learner
from mfmarl.buffers import AgentReplay, Batch
from mfmarl.envs.magent2 import MAgent2Env
from mfmarl.experiments.battle.env import make_battle_env
from mfmarl.training.runtime import tune_cpu_runtime

N_ACTIONS = 21


def real_batch(env: MAgent2Env, rng: np.random.Generator) -> tuple[AgentReplay, Batch]:
    """A replay holding a few random 64 v 64 steps and one sampled batch of them."""
    spec = env.groups[0]
    n = spec.n_slots
    replay = AgentReplay(8, n, (spec.obs_dim,), N_ACTIONS)
    obs = env.reset(0)
    for _ in range(8):
        actions = [rng.integers(0, N_ACTIONS, n) for _ in (0, 1)]
        result = env.step(actions)
        mean = rng.dirichlet(np.ones(N_ACTIONS), n).astype(np.float32)
        red = result.groups[0]
        replay.add(
            obs[0].obs,
            actions[0],
            mean,
            red.rewards,
            red.next.obs,
            mean,
            red.terminated.astype(np.float32),
            obs[0].alive.astype(np.float32),
        )
        obs = tuple(s.next for s in result.groups)
    return replay, replay.sample(1, rng)


def learner_for(algo: str, env: MAgent2Env) -> Learner:
    from mfmarl.algorithms import make_learner
    from mfmarl.experiments.battle.preset import battle_preset

    _, algo_config, _ = battle_preset(algo, "paper")
    algo_config = dataclasses.replace(algo_config, precision="fp32")  # as the bare torch loop
    spec = env.groups[0]
    return make_learner(
        algo_config, spec.obs_dim, spec.n_actions, spec.n_slots, view_shape=spec.view_shape
    )


def timed(step: callable, updates: int) -> float:  # type: ignore[valid-type]
    step()
    start = time.perf_counter()
    for _ in range(updates):
        step()
    return (time.perf_counter() - start) / updates


def masked(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def bare_mfq(learner: Learner, batch: Batch, fused: bool) -> callable:  # type: ignore[valid-type]
    """A hand-written MF-Q update on copies of the learner's networks."""
    q = copy.deepcopy(learner.q)  # type: ignore[attr-defined]
    target = copy.deepcopy(learner.target.module)  # type: ignore[attr-defined]
    opt = torch.optim.Adam(q.parameters(), lr=1e-4, fused=fused)
    cfg, beta = learner.config, learner.beta(0)
    q_params, t_params = list(q.parameters()), list(target.parameters())

    def step() -> None:
        with torch.no_grad():
            next_q = target(batch.next_obs, batch.next_mean_action)
            probs = torch.softmax(beta * next_q, dim=-1)
            y = batch.rewards + cfg.gamma * (1 - batch.dones) * (probs * next_q).sum(-1)
        taken = q(batch.obs, batch.mean_action).gather(-1, batch.actions[..., None])[..., 0]
        loss = masked((taken - y) ** 2, batch.alive)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(q_params, cfg.grad_clip)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(t_params, q_params, cfg.target_tau)

    return step


def bare_mfac(learner: Learner, batch: Batch, fused: bool) -> callable:  # type: ignore[valid-type]
    """A hand-written MF-AC update (critic as MF-Q with the actor's policy; actor with the
    baseline Σπ·Q and an entropy bonus) on copies of the learner's networks."""
    critic = copy.deepcopy(learner.critic)  # type: ignore[attr-defined]
    critic_t = copy.deepcopy(learner.critic_target.module)  # type: ignore[attr-defined]
    actor = copy.deepcopy(learner.actor)  # type: ignore[attr-defined]
    c_opt = torch.optim.Adam(critic.parameters(), lr=1e-4, fused=fused)
    a_opt = torch.optim.Adam(actor.parameters(), lr=1e-4, fused=fused)
    cfg = learner.config
    c_params, t_params = list(critic.parameters()), list(critic_t.parameters())
    a_params = list(actor.parameters())
    a = batch.actions[..., None]

    def step() -> None:
        with torch.no_grad():
            next_q = critic_t(batch.next_obs, batch.next_mean_action)
            next_p = torch.softmax(actor(batch.next_obs), dim=-1)
            y = batch.rewards + cfg.gamma * (1 - batch.dones) * (next_p * next_q).sum(-1)
        taken = critic(batch.obs, batch.mean_action).gather(-1, a)[..., 0]
        c_opt.zero_grad(set_to_none=True)
        masked((taken - y) ** 2, batch.alive).backward()
        nn.utils.clip_grad_norm_(c_params, cfg.grad_clip)
        c_opt.step()
        log_p = torch.log_softmax(actor(batch.obs), dim=-1)
        p = log_p.exp()
        with torch.no_grad():
            q_all = critic(batch.obs, batch.mean_action)
        advantage = q_all.gather(-1, a)[..., 0] - (q_all * p.detach()).sum(-1)
        entropy = -(p * log_p).sum(-1)
        objective = log_p.gather(-1, a)[..., 0] * advantage + cfg.entropy_coef * entropy
        a_opt.zero_grad(set_to_none=True)
        (-masked(objective, batch.alive)).backward()
        nn.utils.clip_grad_norm_(a_params, cfg.grad_clip)
        a_opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(t_params, c_params, cfg.target_tau)

    return step


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    tune_cpu_runtime()  # as training does; for both loops (the settings are the process's)
    torch.set_num_threads(1)
    env = make_battle_env(map_size=40, max_steps=400)
    rng = np.random.default_rng(0)
    replay, batch = real_batch(env, rng)
    records, rows = {}, []
    for algo, bare in (("mfq", bare_mfq), ("mfac", bare_mfac)):
        learner = learner_for(algo, env)
        bare_fused = bare(learner_for(algo, env), batch, True)
        bare_default = bare(learner_for(algo, env), batch, False)
        sample_rng = np.random.default_rng(1)
        steps = {
            "learner": functools.partial(learner.update, batch, 0),
            "learner+sample": lambda lr=learner, r=sample_rng: lr.update(replay.sample(1, r), 0),
            "bare_fused_adam": bare_fused,
            "bare_default_adam": bare_default,
        }
        paths = {k: functools.partial(timed, v, args.updates) for k, v in steps.items()}
        best = interleaved_best(paths, args.repeats)
        ups = {k: 1.0 / v for k, v in best.items()}
        records[algo] = {
            "updates_per_second": ups,
            "learning_vs_bare_torch": ups["learner"] / ups["bare_fused_adam"],
            "learning_vs_bare_default_adam": ups["learner"] / ups["bare_default_adam"],
        }
        rows.append(
            [
                algo,
                ups["learner"],
                ups["learner+sample"],
                ups["bare_fused_adam"],
                ups["bare_default_adam"],
                records[algo]["learning_vs_bare_torch"],
            ]
        )
    headers = ["algo", "learner", "+sample", "bare (fused)", "bare (default)", "ratio"]
    print(
        f"learning: updates/s at batch 64 (one 64-agent step), best of {args.repeats} "
        f"interleaved runs of {args.updates}; ratio = learner / bare (fused Adam)"
    )
    print(table(headers, rows))
    result = {"repeats": args.repeats, "updates": args.updates, "batch_agents": 64, **records}
    print(f"wrote {write_result('learning', result)}")
    return result


if __name__ == "__main__":
    main()
