"""The bundled simulated portal ("demo portal") and its loopback server."""

from sitewatch.demo.portal import Portal, Route, build_portal
from sitewatch.demo.server import DemoServer, serve_portal

__all__ = ["DemoServer", "Portal", "Route", "build_portal", "serve_portal"]
