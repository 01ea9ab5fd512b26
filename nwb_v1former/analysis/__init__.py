"""What a fitted model says: report figures of a run, in-silico experiments, attention analysis."""
