"""HTTP: FastAPI app assembly, authentication, the API routers of every domain, UI and status page."""
