from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    label = "handoff_search"
    verbose_name = "Search"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the indexing receivers
