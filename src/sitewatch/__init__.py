"""sitewatch: monitoring and audit of Chinese government portals."""

__version__ = "0.1.0"
