"""Public status pages and feeds, rendered once per change and served as bytes (the surge path)."""
