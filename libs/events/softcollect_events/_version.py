# The package version doubles as the contract version in the AsyncAPI document.
__version__ = "1.0.0"
