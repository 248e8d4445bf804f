"""The write side: commands, and the deciders that decide them once, consistently.

People ask (``model``: one command model per kind, in one envelope); the decider of the
station the command concerns decides it against that station's state (``decider.decide``,
pure: ``activities``, ``bookings``, ``venues``, ``demands`` hold the rules) and the decision
becomes events in the log (``decider.handle``), which ``state.evolve`` folds back into the
state. Who may ask for what is ``access``. The read side (``streams``, ``projections``) only
ever sees the events.
"""
