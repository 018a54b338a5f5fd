"""lossdoc: a command-line doctor for training-loss histories."""

__version__ = "0.1.0"
