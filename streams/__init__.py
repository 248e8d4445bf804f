"""Live situational awareness: pure folds of the event stream (``state``), run by the Faust
worker (to come, issue 4) and by replay alike."""
