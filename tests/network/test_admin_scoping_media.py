"""The Wagtail admin's documents and images reach only the actor's tenant: each network has its own
collection, held only by its admin group; another network's files are not found or listed; the
migration links existing networks to their collections."""

from __future__ import annotations

import pytest
from django.urls import reverse
from wagtail.models import Collection, GroupCollectionPermission

from network.models import Network, Role
from tests.network.admin_places import ADMIN_ROLES, Place
from tests.network.factories import tenant_make

# --- documents and images ----------------------------------------------------------------------


def _media_urls(place: Place) -> list[str]:
    document, image = place.document.pk, place.image.pk
    return [
        reverse("wagtaildocs:edit", args=[document]),
        reverse("wagtaildocs:delete", args=[document]),
        reverse("wagtaildocs:document_usage", args=[document]),
        reverse("wagtaildocs_chooser:chosen", args=[document]),
        reverse("wagtailadmin_api:documents:detail", args=[document]),
        reverse("wagtailimages:edit", args=[image]),
        reverse("wagtailimages:delete", args=[image]),
        reverse("wagtailimages:image_usage", args=[image]),
        reverse("wagtailimages:url_generator", args=[image]),
        reverse("wagtailimages_chooser:chosen", args=[image]),
        reverse("wagtailimages_chooser:select_format", args=[image]),
        reverse("wagtailadmin_api:images:detail", args=[image]),
    ]


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_other_networks_documents_and_images_are_not_found(client, places, role):
    mine, theirs = places
    client.force_login(mine.tenant.users[role])
    leaks = []
    for url in _media_urls(theirs):
        response = client.get(url)
        if response.status_code != 404 or theirs.marker in response.content.decode():
            leaks.append((url, response.status_code))
    for url in (
        reverse("wagtailadmin_api:documents:listing"),
        reverse("wagtailadmin_api:images:listing"),
        reverse("wagtaildocs:index"),
        reverse("wagtaildocs_chooser:choose"),
        reverse("wagtailimages:index"),
        reverse("wagtailimages_chooser:choose"),
    ):
        response = client.get(url)
        if theirs.marker in response.content.decode():
            leaks.append((url, response.status_code))
    assert leaks == []


def test_network_admin_works_with_own_documents_and_images(client, places):
    mine, _ = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    for url in (
        reverse("wagtailadmin_api:documents:listing"),
        reverse("wagtailadmin_api:images:listing"),
        reverse("wagtaildocs_chooser:choose"),
        reverse("wagtailimages_chooser:choose"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert mine.marker in response.content.decode(), url
    for url in (
        reverse("wagtaildocs:edit", args=[mine.document.pk]),
        reverse("wagtailimages:edit", args=[mine.image.pk]),
        reverse("wagtaildocs_chooser:chosen", args=[mine.document.pk]),
    ):
        assert client.get(url).status_code == 200, url


def test_each_network_has_its_collection_and_only_its_admins_hold_it(places):
    mine, theirs = places
    for place in places:
        network = place.tenant.network
        assert network.collection is not None
        assert network.collection.get_parent() == Collection.get_first_root_node()
        holders = set(
            GroupCollectionPermission.objects.filter(collection=network.collection).values_list(
                "group_id", flat=True
            )
        )
        assert holders == {network.admin_group_id}
        codenames = set(
            GroupCollectionPermission.objects.filter(collection=network.collection).values_list(
                "permission__codename", flat=True
            )
        )
        assert {"choose_document", "change_document", "choose_image", "add_image"} <= codenames
    assert mine.tenant.network.collection != theirs.tenant.network.collection


def test_existing_networks_get_their_collection_linked(db):
    """The migration links each network to the collection made for it, or makes one (with the
    admin group's permissions) when it cannot be found."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("network.migrations.0007_network_collection")
    linked, renamed = tenant_make("Linked").network, tenant_make("Renamed").network
    made_for_linked, made_for_renamed = linked.collection, renamed.collection
    Collection.objects.filter(pk=made_for_renamed.pk).update(name="Something else")
    Network.objects.filter(pk__in=[linked.pk, renamed.pk]).update(collection=None)

    migration.networks_link_collections(apps, None)

    linked.refresh_from_db()
    renamed.refresh_from_db()
    assert linked.collection == made_for_linked
    assert renamed.collection not in {None, made_for_renamed}
    assert renamed.collection.name == renamed.name
    assert GroupCollectionPermission.objects.filter(
        collection=renamed.collection, group=renamed.admin_group
    ).count() == len(migration.COLLECTION_PERMISSIONS)
