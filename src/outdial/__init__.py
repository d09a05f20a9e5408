"""outdial: an outbound campaign engine that speaks the CC-iSales outbound campaign OpenAPI."""

__version__ = "0.1.0"
