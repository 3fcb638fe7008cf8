"""One router per resource: pieces, lines, keys, models and health."""
