"""The small shared layer every other layer may import, connectors included.

Nothing here imports any other part of pmo-sync but `pmo_sync.domain`: the secret
redactor (`redaction`), the admin's YAML files read and their validation errors
translated (`configfiles`), and the `writeback:` block every connector's config
embeds (`writeback_config`).
"""
