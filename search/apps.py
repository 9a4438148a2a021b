from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    label = "handoff_search"
    verbose_name = "Search"
