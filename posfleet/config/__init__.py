"""Configuration: the fleet inventory and every component's settings, from one YAML file."""

from posfleet.config.loader import ConfigError, load_config, parse_config
from posfleet.config.models import PosfleetConfig

__all__ = ["ConfigError", "PosfleetConfig", "load_config", "parse_config"]
