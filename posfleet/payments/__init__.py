"""Payments: why transactions fail, and customers charged for sales shown as failed.

* ``groups`` and ``classification``: cause groups, and the data-file code tables
  (``tables/``) that file each attempt under one, per acquirer;
* ``cases``, ``index``, ``store`` and ``tickets``: the charged-but-failed case engine (a
  ``Sink``), its bounded memory, its SQL store and its tickets;
* ``reconcile`` and ``evidence``: acquirer settlement files in, evidence for the bank out;
* ``findings`` and ``metrics``: operator input-error findings and the Prometheus families.
"""
