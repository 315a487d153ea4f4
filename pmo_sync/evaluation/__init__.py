"""KPIs and governance evaluated over the store: the step above both engines, beside `sync`.

The KPI engine (`pmo_sync.kpi`) and the rules (`pmo_sync.governance`) are pure
functions over plain data and know nothing of the store; the store knows nothing
of them. This package joins the three: `inputs` reads stored items, changes and
sprints into the engines' inputs, `refresh` computes the KPIs and findings and
saves what changed.
"""
