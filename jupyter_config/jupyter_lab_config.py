# JupyterLab as `make lab` and the browser tests start it: JUPYTER_CONFIG_PATH=jupyter_config adds this directory to
# Jupyter's config path, so this file and labconfig/page_config.json apply (to this project only).
# No announcements: the plugin that asks "Would you like to get notified about official Jupyter news?" is disabled
# in labconfig/page_config.json, and here the news feed and the update check are switched off (fetches that fail on
# a closed network anyway).
c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
