"""The browser UI for quality staff and engineers (server-rendered Jinja2 pages under ``/ui``)."""
