"""hitloop."""
