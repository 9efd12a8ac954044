"""One router per resource; ``serving.app.API_ROUTERS`` lists them in order."""
