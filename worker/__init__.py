"""Process wiring: settings, the shared data converter, logging, and the worker itself."""
