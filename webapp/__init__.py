"""The local web app (``python app.py``): :mod:`webapp.jobs` runs the jobs, :mod:`webapp.ui` is the Gradio page.

Sits above models, video and utils (nothing below imports it); Gradio is needed by ``webapp.ui`` only.
"""
