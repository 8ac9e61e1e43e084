"""``posfleet demo``: a simulated chain of stores, polled live (grows with each component)."""
