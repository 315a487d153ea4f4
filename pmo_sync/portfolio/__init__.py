"""The portfolio: strategic themes, the requests' funnel, and how each tracker's portfolio
facts are read (`config/portfolio.yaml`), with the pure logic that applies them."""
