"""The one error type the lab's command line reports without a traceback."""


class LabError(RuntimeError):
    """Something the user can act on; the message says what and how."""
