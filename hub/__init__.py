"""hub: one consistent contact record across CRM, shop, newsletter and file exports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hub")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
