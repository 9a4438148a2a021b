"""SDOH categories (fixed) and a network's service types (editable)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from cms.categories import NEED_LABELS, need_label

from .fields import hsds_extra_field, hsds_id_field


class SdohCategory(models.Model):
    """A Gravity Project SDOH category (code system SDOHCC temporary codes)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    display = models.CharField(_("name"), max_length=120)
    system = models.URLField(_("code system"), max_length=200)
    is_sensitive = models.BooleanField(
        _("sensitive"),
        default=False,
        help_text=_("Disclosed only with consent that names the recipient."),
    )
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "display"]
        verbose_name = _("SDOH category")
        verbose_name_plural = _("SDOH categories")

    def __str__(self) -> str:
        # The plain name people read, translated (“Food”); ``display`` stays the code system's.
        return need_label(self.code) if self.code in NEED_LABELS else self.display


class TaxonomyTerm(models.Model):
    """A network-editable service type (HSDS taxonomy_term), arranged as a tree."""

    network = models.ForeignKey(
        "network.Network", on_delete=models.CASCADE, related_name="taxonomy_terms"
    )
    hsds_id = hsds_id_field()
    taxonomy = models.CharField(_("taxonomy"), default="Service types")
    code = models.CharField(_("code"))
    name = models.CharField(_("name"))
    description = models.TextField(_("description"), blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    # The term's unmodelled HSDS properties (``language``, ``term_uri``) and ``taxonomy_detail``:
    # its taxonomy as the source published it (id, description, uri, version).
    hsds_extra = hsds_extra_field()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "code"], name="taxonomy_code_per_network"),
            models.UniqueConstraint(
                fields=["network", "hsds_id"], name="taxonomy_hsds_id_per_network"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent.name} > {self.name}" if self.parent_id and self.parent else self.name

    def clean(self) -> None:
        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk and self.pk is not None:
                raise ValidationError({"parent": _("A term cannot be its own ancestor.")})
            if ancestor.network_id != self.network_id:
                raise ValidationError({"parent": _("The parent belongs to another network.")})
            ancestor = ancestor.parent
