"""三江驿 Sanjiang: event-sourced situational awareness for community service networks."""

__version__ = "0.1.0"
