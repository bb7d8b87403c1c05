"""A plain torch MF-Q loop at the paper's Battle setting: the baseline of ``episode.py``.

    python benchmarks/plain_loop.py [--episodes 3] [--threads 1] [--device cpu]

What a user would write from the paper without mfmarl, with nothing tuned: the magent2
engine through its public ``GridWorld`` methods (the same engine config and armies as
mfmarl's Battle), one Q-network of the same layers as mfmarl's (two 3x3 convolutions, a
dense view layer, a feature layer, a two-layer ā stream, a 128-64 head), red acting with it
and blue with a frozen copy, Boltzmann sampling with the same ε and β schedules, a replay of
80,000 agent-transitions in numpy arrays (observation and next observation stored as they
come, copied out of the engine, which refills the same buffers at every call), and after the
first 1,000 transitions one batch-64 update per environment step: default Adam, the mean
field target ``r + γ Σ_a π(a|s', ā') Q⁻(s', a, ā')``, gradient clipping at 10 and a soft
target update (τ = 0.005). ā is the mean one-hot action of the agent's living team. With
``--device cuda`` the networks live on the GPU and each batch and each acting step's
observations are copied there (the replay stays in numpy). Prints one JSON list: per episode
its seconds and steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch
from torch import nn

from mfmarl.experiments.battle.env import BattleConfig, _add_armies, engine_config

N_ACTIONS = 21
GAMMA, TAU, LR, BATCH, BUFFER, STARTS = 0.95, 0.005, 1e-4, 64, 80_000, 1_000
BETA, EPSILON, SCHEDULE_STEPS = (10.0, 100.0), (1.0, 0.05), 400_000


class PlainQ(nn.Module):
    def __init__(self, view: tuple[int, int, int], features: int) -> None:
        super().__init__()
        h, w, c = view
        self.view = view
        self.conv = nn.Sequential(
            nn.Conv2d(c, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(), nn.Flatten()
        )
        self.view_dense = nn.Sequential(nn.Linear(32 * (h - 4) * (w - 4), 256), nn.ReLU())
        self.feat = nn.Sequential(nn.Linear(features, 32), nn.ReLU())
        self.mean = nn.Sequential(nn.Linear(N_ACTIONS, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.head = nn.Sequential(
            nn.Linear(256 + 32 + 32, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, N_ACTIONS),
        )

    def forward(self, view: torch.Tensor, feat: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        v = self.view_dense(self.conv(view.permute(0, 3, 1, 2)))
        return self.head(torch.cat([v, self.feat(feat), self.mean(mean)], dim=1))


class Replay:
    def __init__(self, view: tuple[int, int, int], features: int) -> None:
        self.view = np.zeros((BUFFER, *view), np.float32)
        self.feat = np.zeros((BUFFER, features), np.float32)
        self.next_view = np.zeros((BUFFER, *view), np.float32)
        self.next_feat = np.zeros((BUFFER, features), np.float32)
        self.action = np.zeros(BUFFER, np.int64)
        self.reward = np.zeros(BUFFER, np.float32)
        self.mean = np.zeros((BUFFER, N_ACTIONS), np.float32)
        self.next_mean = np.zeros((BUFFER, N_ACTIONS), np.float32)
        self.done = np.zeros(BUFFER, np.float32)
        self.size = self.head = 0

    def add(self, **rows: np.ndarray) -> None:
        k = len(rows["action"])
        at = (self.head + np.arange(k)) % BUFFER
        for name, value in rows.items():
            getattr(self, name)[at] = value
        self.head = (self.head + k) % BUFFER
        self.size = min(self.size + k, BUFFER)

    def sample(self, rng: np.random.Generator, device: torch.device) -> list[torch.Tensor]:
        i = rng.integers(0, self.size, BATCH)
        names = ("view", "feat", "action", "reward", "mean", "next_view", "next_feat")
        return [
            torch.from_numpy(getattr(self, n)[i]).to(device) for n in (*names, "next_mean", "done")
        ]


def schedule(bounds: tuple[float, float], step: int) -> float:
    return bounds[0] + (bounds[1] - bounds[0]) * min(step / SCHEDULE_STEPS, 1.0)


def act(net: nn.Module, view, feat, mean, beta: float, eps: float, rng) -> np.ndarray:  # type: ignore[no-untyped-def]
    device = next(net.parameters()).device
    with torch.no_grad():
        inputs = [torch.from_numpy(x).to(device) for x in (view, feat, mean)]
        q = net(*inputs)
        actions = torch.multinomial(torch.softmax(beta * q, dim=1), 1).squeeze(1).cpu().numpy()
    explore = rng.random(len(actions)) < eps
    actions[explore] = rng.integers(0, N_ACTIONS, int(explore.sum()))
    return actions


def mean_action(actions: np.ndarray) -> np.ndarray:
    """Each agent's ā: the team's mean one-hot action, ``(k, D)``."""
    onehot = np.eye(N_ACTIONS, dtype=np.float32)[actions]
    return np.repeat(onehot.mean(0, keepdims=True), len(actions), axis=0)


def update(net, target, optimizer, replay, beta: float, rng) -> None:  # type: ignore[no-untyped-def]
    device = next(net.parameters()).device
    batch = replay.sample(rng, device)
    view, feat, action, reward, mean, next_view, next_feat, next_mean, done = batch
    with torch.no_grad():
        q_next = target(next_view, next_feat, next_mean)
        value = (torch.softmax(beta * q_next, dim=1) * q_next).sum(1)
        y = reward + GAMMA * (1 - done) * value
    q = net(view, feat, mean).gather(1, action[:, None]).squeeze(1)
    loss = nn.functional.mse_loss(q, y)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), 10.0)
    optimizer.step()
    with torch.no_grad():
        for p, t in zip(net.parameters(), target.parameters()):
            t.mul_(1 - TAU).add_(p, alpha=TAU)


def train(episodes: int, device: str = "cpu") -> list[dict[str, float]]:
    import copy

    import magent2

    config = BattleConfig(map_size=40, max_steps=400)
    engine = magent2.GridWorld(engine_config(config), map_size=config.map_size)
    red, blue = engine.get_handles()
    view = tuple(engine.get_view_space(red))
    features = engine.get_feature_space(red)[0]
    net = PlainQ(view, features).to(device)
    target, opponent = copy.deepcopy(net), copy.deepcopy(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    replay = Replay(view, features)
    rng = np.random.default_rng(0)
    steps_total, out = 0, []
    for _ in range(episodes):
        engine.reset()
        _add_armies(engine, [red, blue], config)
        mean = {h.value: np.zeros((engine.get_num(h), N_ACTIONS), np.float32) for h in (red, blue)}
        start, steps = time.perf_counter(), 0
        while steps < config.max_steps:
            beta, eps = schedule(BETA, steps_total), schedule(EPSILON, steps_total)
            obs, chosen = {}, {}
            for h, model in ((red, net), (blue, opponent)):
                # copied: the engine refills (and resizes) the same buffers at every call
                obs[h.value] = tuple(np.copy(x) for x in engine.get_observation(h))
                v, f = obs[h.value]
                chosen[h.value] = act(model, v, f, mean[h.value], beta, eps, rng)
                engine.set_action(h, chosen[h.value].astype(np.int32))
            done = engine.step()
            reward, alive = engine.get_reward(red), engine.get_alive(red)
            engine.clear_dead()
            next_view, next_feat = engine.get_observation(red)
            realised = {k: mean_action(a) for k, a in chosen.items()}
            k = len(alive)
            nv = np.zeros((k, *view), np.float32)
            nf = np.zeros((k, features), np.float32)
            nv[alive], nf[alive] = next_view, next_feat
            next_mean = np.zeros((k, N_ACTIONS), np.float32)
            next_mean[alive] = realised[red.value][alive]
            replay.add(
                view=obs[red.value][0],
                feat=obs[red.value][1],
                action=chosen[red.value],
                reward=reward,
                mean=realised[red.value],
                next_view=nv,
                next_feat=nf,
                next_mean=next_mean,
                done=(~alive).astype(np.float32),
            )
            mean = {  # next step's ā: the team's realised mean, for its survivors
                h.value: np.repeat(realised[h.value][:1], engine.get_num(h), axis=0)
                for h in (red, blue)
            }
            steps += 1
            steps_total += 1
            if replay.size >= STARTS:
                update(net, target, optimizer, replay, beta, rng)
            if done or min(engine.get_num(red), engine.get_num(blue)) == 0:
                break
        out.append({"seconds": time.perf_counter() - start, "steps": steps})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="where the networks run: cpu or cuda")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(json.dumps(train(args.episodes, args.device)), file=sys.stdout)


if __name__ == "__main__":
    main()
