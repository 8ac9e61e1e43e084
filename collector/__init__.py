"""The edge collector: polls terminals through driver plug-ins (``posfleet.collector``)."""
