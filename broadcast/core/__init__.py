"""Low-level helpers shared by every domain: database, types, time, masking, errors, validation."""
