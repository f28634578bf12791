"""The researchers' web pages (overview, country, event, measurement), served by the collector."""

from collector.web.routes import router

__all__ = ["router"]
