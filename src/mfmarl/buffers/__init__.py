"""Replay storage for agent arrays with alive masks."""

from mfmarl.buffers.replay import AgentReplay, Batch, ObservationStore, StoredObs, living_rows

__all__ = ["AgentReplay", "Batch", "ObservationStore", "StoredObs", "living_rows"]
