"""The tamper-evident audit trail: hash chain, signed checkpoints, verification, alerts."""
