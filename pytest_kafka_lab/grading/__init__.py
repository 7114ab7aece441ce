"""Grading course submissions: each runs in its own process against the lab broker,
observed by instrumentation, and judged from broker truth."""
