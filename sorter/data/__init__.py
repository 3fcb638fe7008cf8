"""Data a metallurgist edits: line list, levels, instruments, contaminants, surface layers (each with sources)."""
