"""Who may do what: staff accounts and roles, device keys, tokens and sessions, login limits.

``roles`` is pure (grants and station scopes); ``users`` and ``throttle`` keep their state in
SQLite under ``<var_dir>/secrets`` (shared by the API's processes and the CLI); ``tokens`` signs
and checks JWTs; ``deps`` turns a request's credential into a :class:`~api.access.roles.Caller`.
"""
