"""The search index: one denormalized row per service at a location, kept by tasks.

Rows are derived from published directory pages and rebuilt after every change that matters
(publishing, capacity, verification, map points), so a search reads one table and never walks
the page tree. On PostgreSQL the migration adds a weighted ``tsvector`` with a GIN index, a
trigram index on the vocabulary and the search extensions; SQLite keeps the same rows.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchVectorField
from django.db import models


class TagKind(models.TextChoices):
    CATEGORY = "category"
    TYPE = "type"
    LANGUAGE = "language"
    FEE = "fee"
    CAPACITY = "capacity"


# The generation (``cms.generations``) bumped by every write to the index (``search.services``):
# what is computed from the whole index (a network's needs) is kept under it.
SEARCH_INDEX = "search-index"


class SearchDocument(models.Model):
    """A service offered at one location (or, without locations, the service alone)."""

    key = models.CharField(max_length=40, unique=True)  # "<service id>:<location id or 0>"
    network = models.ForeignKey("network.Network", on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(
        "directory.ServicePage", on_delete=models.CASCADE, related_name="search_documents"
    )
    agency = models.ForeignKey("directory.AgencyPage", on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(
        "directory.Location", on_delete=models.CASCADE, null=True, related_name="+"
    )
    service_name = models.CharField(max_length=255)
    agency_name = models.CharField(max_length=255)
    location_name = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=400, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    url = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    alert = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=20)
    # What full-text search reads: short names (weight A) and everything else (weight B).
    names = models.TextField()
    body = models.TextField(blank=True)
    search_vector = SearchVectorField(null=True, editable=False)  # PostgreSQL only
    latitude = models.FloatField(null=True)
    longitude = models.FloatField(null=True)
    fee_type = models.CharField(max_length=16)
    capacity = models.CharField(max_length=16)
    referral_method = models.CharField(max_length=20)
    phone = models.CharField(max_length=60, blank=True)
    minimum_age = models.PositiveSmallIntegerField(null=True)
    maximum_age = models.PositiveSmallIntegerField(null=True)
    verified_at = models.DateTimeField(null=True)
    # For showing a hit without another query: codes, and the weekly hours and closures that
    # directory.hours needs to tell whether it is open.
    categories = models.JSONField(default=list)
    service_types = models.JSONField(default=list)
    languages = models.JSONField(default=list)
    hours = models.JSONField(default=list)  # [[weekday, "HH:MM", "HH:MM"], ...]
    closures = models.JSONField(default=list)  # [["YYYY-MM-DD", "YYYY-MM-DD"], ...]
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The bounding-box prefilter: a range on latitude, then longitude, in one network.
            models.Index(fields=["network", "latitude", "longitude"], name="search_doc_geo"),
            models.Index(fields=["network", "capacity"], name="search_doc_capacity"),
        ]

    def __str__(self) -> str:
        return f"{self.service_name} — {self.location_name or 'no location'}"


class SearchTag(models.Model):
    """A filterable, countable value of a document (category, service type, language…)."""

    document = models.ForeignKey(SearchDocument, on_delete=models.CASCADE, related_name="tags")
    kind = models.CharField(max_length=10, choices=TagKind.choices)
    value = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["kind", "value", "document"], name="search_tag_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["document", "kind", "value"], name="search_tag_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


class SearchOpening(models.Model):
    """A weekly opening in local minutes of the week (Monday 00:00 = 0), for "open now".

    An opening that runs past Sunday midnight is split in two rows; ``start_weekday`` stays the
    day the opening began, which decides whether a closure date cancels it.
    """

    document = models.ForeignKey(SearchDocument, on_delete=models.CASCADE, related_name="openings")
    start_weekday = models.PositiveSmallIntegerField()
    start_minute = models.PositiveIntegerField()
    end_minute = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["document", "start_minute", "end_minute"], name="search_opening_at"
            )
        ]

    def __str__(self) -> str:
        return f"{self.start_minute}-{self.end_minute} (day {self.start_weekday})"


class SearchClosure(models.Model):
    """Dates (local, inclusive) on which no opening of the document starts."""

    document = models.ForeignKey(
        SearchDocument, on_delete=models.CASCADE, related_name="closure_rows"
    )
    start_date = models.DateField()
    end_date = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["document", "start_date"], name="search_closure_at")]

    def __str__(self) -> str:
        return f"closed {self.start_date} to {self.end_date}"


class SearchTerm(models.Model):
    """A word that occurs in a network's listings: what misspelt query words are corrected to."""

    network = models.ForeignKey("network.Network", on_delete=models.CASCADE, related_name="+")
    word = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "word"], name="search_term_once")]

    def __str__(self) -> str:
        return self.word
