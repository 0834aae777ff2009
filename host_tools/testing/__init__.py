"""What testers import: replay traces and samples through the firmware and
question the events (api.py), and the pytest plugin (plugin.py, loaded by
pytest through the package's `pytest11` entry point). docs/testing.md.

The names below come from api.py when first used, not when this package is
imported: pytest imports the plugin (and so this package) in every run of
every project where pumpmon is installed, and it must stay light there."""
__all__ = ["RUNTIMES", "Event", "Replay", "ReplayError", "TraceError", "check_lines",
           "replay_samples", "replay_trace", "stream"]


def __getattr__(name):
    if name in __all__:
        import host_tools.testing.api as api
        return getattr(api, name)
    raise AttributeError("module 'host_tools.testing' has no attribute %r" % name)
