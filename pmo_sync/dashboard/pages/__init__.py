"""One module per page; each has one `build_*` function that gathers the page's data.

A page's data is a frozen dataclass the template renders and the tests read:
everything the page shows is in it, computed from stored values only.
"""
