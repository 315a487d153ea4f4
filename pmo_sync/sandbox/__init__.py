"""Sandbox trackers for tests, the demo and the benchmarks: `jira/`, `ado/` (Azure DevOps) and
`trello/`, each a seeded dataset served over HTTP; shared by all three: `harness` (the HTTP
server, fault injection, request log), `clock` (each dataset's "now") and `audit` (a store
compared with a sandbox's ground truth)."""
