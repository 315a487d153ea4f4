"""The portfolio view: the dashboard pages (`serve`, `dashboard`) and the one-file report.

Pages read what the KPI refresh stored (`kpi_values`, `findings`, the items'
columns, the run log) and never recompute a KPI: a page costs a few indexed
reads whatever the portfolio's size. Layout of the package:

- `filters`: the team/source/window filters every page takes from its URL.
- `reads`: the store queries the pages share; `reads_flow` and `reads_portfolio` those of
  the team pages and of the portfolio, epics and governance pages (the only modules that
  talk SQL).
- `pages/`: one module per page, each building that page's data in one place.
- `charts`: one function per chart kind, returning the Plotly figure it draws.
- `app`: the Flask application (routes, templates, security headers, auth).
- `auth`: who may read the pages when they are served beyond loopback.
- `server`: the threaded WSGI server `serve` and `dashboard` run it on.
- `report`: every page in one self-contained HTML file.
"""
