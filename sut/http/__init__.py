"""The HTTP and WebSocket edge of the SUT: parsing, routes, instrumentation."""
