"""Declarative resource definitions: the single source for validation, defaults,
visibility, filters, sort keys and the extension list."""
