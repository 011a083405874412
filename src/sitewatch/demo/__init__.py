"""The bundled simulated portal ("demo portal") and its loopback server."""

from sitewatch.demo.build import build_portal
from sitewatch.demo.server import DemoServer, serve_portal
from sitewatch.demo.site import Portal, Route

__all__ = ["DemoServer", "Portal", "Route", "build_portal", "serve_portal"]
