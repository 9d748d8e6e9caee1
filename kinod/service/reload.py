"""Which config a daemon may run with: the layout check at start, and what SIGHUP may change.

Kept apart from the daemon so the rules on a config (outputs never inside the footage,
the state directory fixed for the life of the process) read in one place; the daemon
applies a config that passed them.
"""

from __future__ import annotations

from kinod.config import Config, ConfigError, load_config


class ConfigConflict(RuntimeError):
    """The layout would write into the footage or watch kinod's own state."""


def check_layout(config: Config) -> None:
    """Refuse layouts that would write into the footage or watch our own outputs."""
    out = config.output.root.absolute()
    state = config.state.dir.absolute()
    for root in config.watch.roots:
        r = root.path.absolute()
        if out.is_relative_to(r) or r.is_relative_to(out):
            raise ConfigConflict(
                f"output.root {out} and watch root {r} overlap: outputs must never be written into the footage"
            )
        if state.is_relative_to(r):
            raise ConfigConflict(f"state.dir {state} is inside watch root {r}: kinod would watch its own state")


def read_reloaded(running: Config) -> Config:
    """The config file read again for SIGHUP; raises ConfigError/ConfigConflict when it may not replace ``running``."""
    new = load_config(running.source) if running.source else None
    if new is None:
        raise ConfigError("no config file was given (built-in defaults): nothing to reload")
    check_layout(new)
    if new.state.dir.absolute() != running.state.dir.absolute():
        raise ConfigError(f"state.dir changed to {new.state.dir}: restart kinod to move its state")
    if new.state.shared != running.state.shared:
        raise ConfigError(f"state.shared_dir changed to {new.state.shared}: restart kinod to move it")
    return new
