"""The analyst pages, one module per page family; ``serving.web.routes`` combines their
routers. ``common`` holds what every page shares: the signed-in user, rendering with the
page headers, the language and number formats, and the audit of shown sponsors."""
