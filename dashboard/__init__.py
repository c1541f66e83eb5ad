"""The depthlens dashboard: a Dash page fed by the API's ``/ws/{symbol}`` frames in the browser.

Public surface: :func:`mount` / :func:`mount_dashboard` (serve the page at ``/`` of the API's
FastAPI app, after its routes) and :func:`create_dash_app` (the bare Dash app, e.g. for tests).
"""

from dashboard.app import create_dash_app, mount, mount_dashboard

__all__ = ["create_dash_app", "mount", "mount_dashboard"]
