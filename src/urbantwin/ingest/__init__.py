"""Importers: files into the store's collections. Each is idempotent: importing twice changes nothing."""
