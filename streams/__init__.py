"""Live situational awareness: the stream worker and the pure fold it runs (``state``), which
replays use as well. ``state`` runs compiled when a build of its current sources exists
(``streams.compiled``)."""

from streams.compiled import activate

activate(__path__)
