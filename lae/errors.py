"""Errors a user can cause and fix: the command line prints them without a traceback."""


class LaeError(Exception):
    """Base class of expected, user-facing errors (bad input, missing files, bad config)."""


class DataError(LaeError):
    """A dataset is missing, corrupt, or not what was declared; the message names the file
    or tensor."""


class ConfigError(LaeError):
    """A config key or value is unknown or invalid; the message names the key and the valid
    choices."""


class RunDirError(LaeError):
    """A run directory is missing, incomplete, or would be overwritten."""


class ModelDiverged(LaeError):
    """A model found its own state diverging (e.g. a latent EBM's energies exploding); the
    trainer reports it like a non-finite loss, with the last good checkpoint kept. The message
    names the quantity, its value and the settings most likely behind it."""


# A process started by ``lae train --nproc`` writes its one-line error to the file this names
# instead of printing it, so that its launcher prints one message for all of them.
ERROR_FILE_ENV = "LAE_ERROR_FILE"
