"""Derived metrics: what needs domain knowledge, computed in the collector (and in ingest)
and exported as metrics so that the alert rules in ``alerts/`` stay simple comparisons.

* ``paper``: the receipt paper's time to empty from the near-end remainder and the print rate;
* ``opening``: whether a store is open now, in its time zone;
* ``policy``: the fleet thresholds and version baselines from the config;
* ``versions``: comparing vendor version strings;
* ``causes`` and ``transactions``: payment attempts per store by outcome and cause group,
  and open reversals;
* ``metrics``: the prometheus_client collector exposing all of it, and the sink feeding it.
"""
