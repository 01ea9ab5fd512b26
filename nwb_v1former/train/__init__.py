"""Training: losses, loops, fine-tuning, metrics."""
