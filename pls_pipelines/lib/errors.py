"""Errors a user must act on.

Every message names the setting (environment variable, YAML key or file) and says how to fix it, because the
person reading it is often a data engineer looking at a failed scheduled run, not the author of the code.
"""


class ConfigError(ValueError):
    """A configuration problem a user must fix; the message names the setting and the fix."""
