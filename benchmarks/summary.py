"""Collect the headline ratios of the benchmark results into ``results/summary.json``.

    python benchmarks/summary.py

Reads env.json, acting.json, learning.json and scale.json (written by the scripts of the
same names) and writes exactly the issue's keys: the adapter against the raw engine and
against PettingZoo at 64 v 64 (and the Battle experiment's mirrored env against the raw
engine), the acting overhead, learning against a bare torch loop (the lower of MF-Q and
MF-AC), the growth exponents (mean action: the larger of team and radius) and the compact
replay's peak bytes per stored agent-transition; then evaluation's step against training's
acting step, the MF-Q paper episode against the same-run plain loop, and (from
profile_mfq_cpu.json) the share of that episode's step spent in the update and acting,
the network passes that both loops do.
"""

from __future__ import annotations

import json

from common import RESULTS, table


def load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def main() -> dict:
    env, acting, learning, scale = (load(n) for n in ("env", "acting", "learning", "scale"))
    at_64 = next(row for row in env["rows"] if row["team_size"] == 64)
    summary = {
        "adapter_vs_raw": at_64["adapter_vs_raw"],
        "adapter_vs_pettingzoo": at_64["adapter_vs_pettingzoo"],
        "mirrored_battle_vs_raw": at_64["mirrored_vs_raw"],
        "acting_overhead": acting["acting_overhead"],
        "learning_vs_bare_torch": min(
            learning[algo]["learning_vs_bare_torch"] for algo in ("mfq", "mfac")
        ),
        "mean_action_exponent": scale["mean_action_exponent"],
        "acting_exponent": scale["acting_exponent"],
        "replay_bytes_per_agent_transition": scale["replay"]["compact"][
            "peak_bytes_per_agent_transition"
        ],
        "evaluation_vs_acting": acting["evaluation_vs_acting"],
    }
    if (RESULTS / "episode_mfq.json").is_file():
        episode = load("episode_mfq")
        vs_plain = episode.get("speedup_vs_plain_loop") or {}
        both = [v for k, v in vs_plain.items() if "2 threads" in k]
        if both:  # fp32 with both cores against the plain loop with both
            summary["mfq_episode_vs_plain_loop_2_threads"] = vs_plain.get(
                "after fp32, 2 threads", min(both)
            )
        if "after auto, 2 threads" in vs_plain:  # what the defaults choose on this machine
            summary["mfq_episode_vs_plain_loop_defaults"] = vs_plain["after auto, 2 threads"]
            chosen = (episode.get("resolved_precision") or {}).get("after auto, 2 threads")
            summary["mfq_episode_defaults_precision"] = chosen
    if (RESULTS / "profile_mfq_cpu.json").is_file():  # what the episode's time goes to
        phases = load("profile_mfq_cpu")["ms_per_step"]
        step = sum(phases.values())
        summary["mfq_update_and_acting_share"] = (phases["update"] + phases["acting"]) / step
    goals = {
        "adapter_vs_raw": ">= 0.9",
        "adapter_vs_pettingzoo": ">= 2",
        "mirrored_battle_vs_raw": "(adapter + Battle's mirror; none)",
        "acting_overhead": "<= 1.25",
        "learning_vs_bare_torch": ">= 0.8",
        "mean_action_exponent": "<= 1.1",
        "acting_exponent": "<= 1.1",
        "replay_bytes_per_agent_transition": "(uint8 0/1 columns)",
        "evaluation_vs_acting": "<= 1",
        "mfq_episode_vs_plain_loop_2_threads": ">= 2 (fp32)",
        "mfq_episode_vs_plain_loop_defaults": ">= 2, never < 1 (--precision auto, 2 threads)",
        "mfq_episode_defaults_precision": "(what auto chose here)",
        "mfq_update_and_acting_share": "(the networks' share of a step, 2 threads)",
    }
    print(table(["figure", "value", "goal"], [[k, v, goals[k]] for k, v in summary.items()]))
    path = RESULTS / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {path}")
    return summary


if __name__ == "__main__":
    main()
