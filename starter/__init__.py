"""The client side: intake routes, the operators' CLI, the local stack and the codec server."""
