"""MF-Q (docs/method.md 3) and, with the ā input switched off, independent Q-learning (IL)."""

from __future__ import annotations

import torch
from torch import nn

from mfmarl.algorithms.base import Learner, masked_mean
from mfmarl.buffers import Batch
from mfmarl.core.policy import boltzmann_policy
from mfmarl.core.targets import double_dqn_target, dqn_target, mfq_target


class MeanFieldQ(Learner):
    """Q(o, a, ā) trained towards ``r + γ(1−done)·v(s')``; acts by softmax(β·Q).

    Three copies of the Q-network: the online one (trained), the target one (soft-updated with
    ``target_tau``, used in the target) and the acting one (soft-updated with ``act_tau``;
    with ``act_tau`` = 1 the online network acts itself, see :attr:`Learner.acts_with_copy`).
    With ``average_tau`` > 0 a fourth, ``q_average``, is the Polyak average that trained
    players act with. For ``algo="iql"`` the network has no ā input; everything else is
    identical.
    """

    trained_name, acting_name, average_name = "q", "q_act", "q_average"

    def build(self) -> None:
        self.q = self.make_q_network(initial_q=self.initial_q(self.config.beta_start))
        self.q_target = self.acting_copy(self.q)
        self.q_act = self.acting_copy(self.q)
        self.q_average = self.average_copy(self.q)
        advantage = getattr(self.q, "advantage", None)
        self.optimizer = self.make_optimizer(self.q, self.config.lr, advantage)

    def modules(self) -> dict[str, nn.Module]:
        modules = {"q": self.q, "q_target": self.q_target, "q_act": self.q_act}
        if self.q_average is not None:
            modules["q_average"] = self.q_average
        return modules

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"q": self.optimizer}

    def policy_scores(self, obs: torch.Tensor, mean_action: torch.Tensor) -> torch.Tensor:
        return self.acting_network()(obs, mean_action)

    def scores_to_policy(self, scores: torch.Tensor, step: int) -> torch.Tensor:
        return boltzmann_policy(scores, self.beta(step))

    def _target(self, batch: Batch, rewards: torch.Tensor, beta: float) -> torch.Tensor:
        cfg = self.config
        if cfg.gamma == 0.0:
            return rewards
        next_q = self.q_target(batch.next_obs, batch.next_mean_action)
        if cfg.value_target == "max":
            return dqn_target(rewards, batch.dones, next_q, cfg.gamma)
        if cfg.value_target == "double":
            online = self.q(batch.next_obs, batch.next_mean_action)
            return double_dqn_target(rewards, batch.dones, online, next_q, cfg.gamma)
        probs = boltzmann_policy(next_q, beta)
        return mfq_target(rewards, batch.dones, next_q, probs, cfg.gamma)

    def update(self, batch: Batch, step: int = 0) -> dict[str, float]:
        cfg = self.config
        batch = self.compact(batch, self.q.normalizer)
        if self.q.normalizer is not None:
            self.q.normalizer.update(batch.mean_action)
        with torch.no_grad():
            rewards = self.fit_rewards(batch)
            target = self._target(batch, rewards, self.beta(step))
        q_all = self.q(batch.obs, batch.mean_action)
        q_taken = q_all.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        td_error = (q_taken - target) ** 2
        self.optimizer.zero_grad(set_to_none=True)
        self.masked_loss(td_error, batch.alive).backward()
        self.clip_gradients(self.q)
        self.optimizer.step()
        self.soft_update(self.q_target, self.q, cfg.target_tau)
        self.follow(self.q_act, self.q)
        self.update_average(self.q_average, self.q)
        self.updates += 1
        return {
            "losses/td_loss": float(masked_mean(td_error.detach(), batch.alive)),
            "losses/q_mean": float(masked_mean(q_taken.detach(), batch.alive)),
        }
