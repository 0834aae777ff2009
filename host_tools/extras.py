"""The optional parts of the pumpmon command and the pip extra that brings
each (pyproject.toml's [project.optional-dependencies]; `make setup`
installs them all). A command that needs a part that is missing says so in
one line, naming the extra to install, instead of a traceback."""
import importlib.util

# extra -> (the module it brings, what needs it)
EXTRAS = {
    "plot": ("matplotlib", "drawing a replay (--plot)"),
    "carer": ("amqtt", "a local MQTT broker (the carer's view of `pumpmon run`, "
              "`pumpmon carer --serve`)"),
}


def missing(extra):
    """None when the extra's module imports; else the one-line message."""
    module, what = EXTRAS[extra]
    if importlib.util.find_spec(module) is not None:
        return None
    return ("%s needs %s, an optional part: pip install 'pumpmon[%s]' (or "
            "'pumpmon[all]'; `make setup` installs every part)" % (what, module, extra))
