"""Built-in drivers, one folder each: code, sample config, README, golden cases."""
