"""A visitor's session and what the server shares between sessions: keys, models, limits, resources."""
