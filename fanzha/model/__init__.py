"""Pure data model: value types, events, reference entities and enums (no I/O)."""
