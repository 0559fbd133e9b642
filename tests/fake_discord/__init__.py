"""A local fake Discord (REST + gateway) and the harness that runs the real bot against it."""
from .server import FakeDiscord, Fault, Interaction, Request, snowflake, user_json

__all__ = ["FakeDiscord", "Fault", "Interaction", "Request", "snowflake", "user_json"]
