"""The HSDS 3.0 documents of a network's published services, stored ready to serve.

``directory.hsds.stored`` writes them (in the transaction that publishes, unpublishes, moves or
deletes a service or its agency, or imports listings); the HSDS API pages and filters these
rows instead of building each object from a dozen tables on every request.
"""

from __future__ import annotations

from django.db import models


class ServiceDocument(models.Model):
    """One published service (live, under a live agency) as the HSDS API serves it.

    Its primary key is the service page's, so the API's filters written for service pages
    (``OuterRef("pk")``) apply to these rows unchanged. The columns the filters read are copied
    from the page under the same names; ``full`` and ``summary`` are the serializer's fully
    nested object and list form, as JSON text the API splices into its pages unparsed.
    """

    service = models.OneToOneField(
        "directory.ServicePage",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="hsds_document",
    )
    network = models.ForeignKey(
        "network.Network", on_delete=models.CASCADE, related_name="hsds_documents"
    )
    path = models.CharField(max_length=255)
    hsds_id = models.UUIDField()
    organization_id = models.UUIDField()
    title = models.CharField(max_length=255)
    alternate_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20)
    fee_type = models.CharField(max_length=20)
    referral_method = models.CharField(max_length=20)
    last_published_at = models.DateTimeField(null=True)
    full = models.TextField()
    summary = models.TextField()

    class Meta:
        indexes = [
            # With the key: a page's keys are read from the index alone (an index-only scan),
            # however deep the page, without touching the wide document rows.
            models.Index(
                fields=["network", "path"], include=["service"], name="hsds_document_order"
            ),
            models.Index(fields=["network", "hsds_id"], name="hsds_document_id"),
            models.Index(fields=["network", "organization_id"], name="hsds_document_org"),
            models.Index(fields=["network", "last_published_at"], name="hsds_document_modified"),
        ]

    def __str__(self) -> str:
        return self.title
