"""A fitted model run over converted sessions: predictions on the 30 Hz ticks, and their scores."""
