"""Simulated terminal fleet that speaks the real protocols (``posfleet simulate``)."""
