"""HTTP functions, one module per deploy target. Each is thin: parse, authorize, call a service,
render. Root `main.py` exposes them all so one source root deploys."""
