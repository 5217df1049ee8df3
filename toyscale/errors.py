"""Errors toyscale raises for bad user input."""


class UserError(ValueError):
    """A problem with user input (experiment file, CLI flag, parameter value).

    The CLI prints ``str(error)`` on one line and exits with status 2, before any compute
    starts and without writing anything. ``field`` names the offending field
    (``params.alpha``, ``sweep.width``, ``--out``), so messages read ``field: problem``.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)
