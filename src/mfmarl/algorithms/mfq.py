"""MF-Q (docs/method.md 3) and, with the ā input switched off, independent Q-learning (IL)."""

from __future__ import annotations

import torch
from torch import nn

from mfmarl.algorithms.base import Boltzmann, Learner, masked_mean
from mfmarl.algorithms.lagged import ModuleTensors
from mfmarl.buffers import Batch
from mfmarl.core.policy import boltzmann_policy
from mfmarl.core.targets import double_dqn_target, dqn_target, mfq_target


class MeanFieldQ(Learner):
    """Q(o, a, ā) trained towards ``r + γ(1−done)·v(s')``; acts by softmax(β·Q).

    Lagged copies of the Q-network (:class:`~mfmarl.algorithms.lagged.LaggedCopy`): the target
    (``target_tau``, used in the target), the acting copy (``act_tau``; with 1 it rests and
    the online network acts itself) and, with ``average_tau`` > 0, the Polyak average that
    trained players act with. For ``algo="iql"`` the network has no ā input; everything else
    is identical.
    """

    def build(self) -> None:
        cfg = self.config
        self.q = self.make_q_network(initial_q=self.initial_q(cfg.beta_start))
        self.policy_network = self.q
        self.target = self.lagged(self.q, cfg.target_tau)
        self.acting = self.lagged(self.q, cfg.act_tau, rests=True)
        self.average = self.average_of(self.q)
        self.to_probs = Boltzmann(self.beta)
        advantage = getattr(self.q, "advantage", None)
        self.optimizer = self.make_optimizer(self.q, cfg.lr, advantage)
        self.q_tensors = ModuleTensors.of(self.q)

    def modules(self) -> dict[str, nn.Module]:
        modules = {"q": self.q, "q_target": self.target.module, "q_act": self.acting.module}
        if self.average is not None:
            modules["q_average"] = self.average.module
        return modules

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"q": self.optimizer}

    def _target(self, batch: Batch, rewards: torch.Tensor, beta: float) -> torch.Tensor:
        cfg = self.config
        if cfg.gamma == 0.0:
            return rewards
        next_q = self.target.module(batch.next_obs, batch.next_mean_action)
        if cfg.value_target == "max":
            return dqn_target(rewards, batch.dones, next_q, cfg.gamma)
        if cfg.value_target == "double":
            online = self.q(batch.next_obs, batch.next_mean_action)
            return double_dqn_target(rewards, batch.dones, online, next_q, cfg.gamma)
        probs = boltzmann_policy(next_q, beta)
        return mfq_target(rewards, batch.dones, next_q, probs, cfg.gamma)

    def update(self, batch: Batch, step: int = 0) -> dict[str, float]:
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
        self.clip_gradients(self.q, self.q_tensors)
        self.optimizer.step()
        self.target.follow()
        self.follow()
        self.updates += 1
        return {
            "losses/td_loss": float(masked_mean(td_error.detach(), batch.alive)),
            "losses/q_mean": float(masked_mean(q_taken.detach(), batch.alive)),
        }
