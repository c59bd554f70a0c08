"""Reference data shipped with the package: régions académiques, académies, départements."""
