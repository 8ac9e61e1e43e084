"""``posfleet backtest``: replay fleet history through the alert rules with a real Prometheus
and measure how early tickets would have come before failed transactions."""
