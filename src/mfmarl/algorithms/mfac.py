"""MF-AC (docs/method.md 4) and, with the ā input switched off, independent actor-critic (AC)."""

from __future__ import annotations

import torch
from torch import nn

from mfmarl.algorithms.base import Learner, Softmax, masked_mean
from mfmarl.algorithms.lagged import ModuleTensors
from mfmarl.buffers import Batch
from mfmarl.core.policy import log_softmax, mean_field_value, softmax
from mfmarl.core.targets import mfq_target
from mfmarl.networks import (
    Actor,
    ViewActor,
    ViewQNetwork,
    falling_preference,
    resolve_precision,
)


class MeanFieldActorCritic(Learner):
    """Actor π_θ(a|o) and critic Q_φ(o, a, ā).

    The critic is trained like MF-Q with the actor's policy inside v^MF(s'); the actor follows
    ``∇log π(a|o)·(Q(o, a, ā) − Σ_b π(b|o)Q(o, b, ā))`` plus an optional entropy bonus.
    With ``average_tau`` > 0, ``actor_average`` is the Polyak average of the actor that
    trained players act with. For ``algo="iac"`` the critic has no ā input.
    """

    def build(self) -> None:
        cfg = self.config
        self.critic = self.make_q_network()
        self.critic_target = self.lagged(self.critic, cfg.target_tau)
        initial_logits = falling_preference(self.n_actions, cfg.initial_preference)
        actor_params = None
        if self.view_shape is not None:
            critic = self.critic
            shared = cfg.actor_encoder == "critic" and isinstance(critic, ViewQNetwork)
            view_actor = ViewActor(
                self.view_shape,  # type: ignore[arg-type]
                self.feature_dim,
                self.n_actions,
                initial_logits=initial_logits,
                encoder=critic.encoder if isinstance(critic, ViewQNetwork) and shared else None,
                precision=resolve_precision(cfg.precision, self.device),
            ).to(self.device)
            actor_params = view_actor.own_parameters()
            self.actor: nn.Module = view_actor
        else:
            self.actor = Actor(
                self.obs_dim,
                self.n_actions,
                hidden=cfg.hidden,
                groups=self.groups,
                initial_logits=initial_logits,
            ).to(self.device)
        self.policy_network = self.actor
        self.acting = self.lagged(self.actor, cfg.act_tau, rests=True)
        self.average = self.average_of(self.actor)
        self.to_probs = Softmax()
        self.critic_optimizer = self.make_optimizer(self.critic, cfg.lr)
        self.actor_optimizer = self.make_optimizer(self.actor, cfg.actor_lr, params=actor_params)
        self.critic_tensors = ModuleTensors.of(self.critic)
        self.actor_tensors = ModuleTensors.of(self.actor)

    def modules(self) -> dict[str, nn.Module]:
        modules = {
            "critic": self.critic,
            "critic_target": self.critic_target.module,
            "actor": self.actor,
            "actor_act": self.acting.module,
        }
        if self.average is not None:
            modules["actor_average"] = self.average.module
        return modules

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"critic": self.critic_optimizer, "actor": self.actor_optimizer}

    def update(self, batch: Batch, step: int = 0) -> dict[str, float]:
        cfg = self.config
        batch = self.compact(batch, self.critic.normalizer)
        if self.critic.normalizer is not None:
            self.critic.normalizer.update(batch.mean_action)
        # Critic: MF-Q target with the actor's policy at s'.
        with torch.no_grad():
            rewards = self.fit_rewards(batch)
            if cfg.gamma == 0.0:
                target = rewards
            else:
                next_q = self.critic_target.module(batch.next_obs, batch.next_mean_action)
                next_probs = softmax(self.actor(batch.next_obs))
                target = mfq_target(rewards, batch.dones, next_q, next_probs, cfg.gamma)
        q_all = self.critic(batch.obs, batch.mean_action)
        q_taken = q_all.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        td_error = (q_taken - target) ** 2
        self.critic_optimizer.zero_grad(set_to_none=True)
        self.masked_loss(td_error, batch.alive).backward()
        self.clip_gradients(self.critic, self.critic_tensors)
        self.critic_optimizer.step()

        # Actor: policy gradient against the (updated) critic, baseline V = Σπ·Q.
        logits = self.actor(batch.obs)
        log_probs = log_softmax(logits)
        probs = softmax(logits)  # not log_probs.exp(): exp is slow on large negatives
        with torch.no_grad():
            q_all = self.critic(batch.obs, batch.mean_action)
        entropy = -(probs * log_probs).sum(-1)
        if cfg.actor_gradient == "expected":
            objective = mean_field_value(q_all, probs)
        elif cfg.actor_gradient == "natural":  # each logit moves by its advantage
            advantage = q_all - mean_field_value(q_all, probs.detach()).unsqueeze(-1)
            objective = (advantage * logits).sum(-1)
        else:
            baseline = mean_field_value(q_all, probs.detach())
            advantage = q_all.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1) - baseline
            taken = log_probs.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
            objective = taken * advantage
        actor_loss = -self.masked_loss(objective + cfg.entropy_coef * entropy, batch.alive)
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.clip_gradients(self.actor, self.actor_tensors)
        self.actor_optimizer.step()

        self.critic_target.follow()
        self.follow()
        self.updates += 1
        return {
            "losses/td_loss": float(masked_mean(td_error.detach(), batch.alive)),
            "losses/actor_loss": float(actor_loss.detach()) / self.groups,
            "losses/entropy": float(masked_mean(entropy.detach(), batch.alive)),
        }
