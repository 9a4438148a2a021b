"""The demo: two community resource networks as data files (``data/``) and ``manage.py seed_demo``,
which loads them. Installed only by the dev and test settings; production code never imports it."""
