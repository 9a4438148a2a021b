from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, re_path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from consent import views as consent_views
from network.wagtail_scoping import admin_urls_scoped

accounts = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("accounts/", include(accounts)),
    path("accounts/two-factor/", include("network.urls_two_factor")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("workspace/", include("network.urls")),
    path("workspace/", include("referrals.urls")),
    path("files/", include("consent.urls")),  # private files: checked, logged downloads
    path("", include("directory.urls")),  # /listings/… and the portal's /workspace/listings/…
    path("search/", include("search.urls")),
    # FHIR R4 for EHRs (SMART Backend Services sign-in), on each network's host.
    path("fhir/r4/", include("referrals.fhir.urls")),
    # Every admin URL naming a page, document or image checks the tenant first.
    path("admin/", include(admin_urls_scoped(wagtailadmin_urls.urlpatterns))),
    # Wagtail's document URL, served by a view that reads any storage and answers with an
    # attachment nobody caches (the reader is checked by consent.wagtail_hooks).
    re_path(r"^documents/(\d+)/(.*)$", consent_views.document_download, name="document_download"),
    path("documents/", include(wagtaildocs_urls)),
]

if settings.DJANGO_ADMIN_PATH:
    # Only for operators, at a private prefix they choose; never routed by default.
    urlpatterns.append(path(settings.DJANGO_ADMIN_PATH.strip("/") + "/", admin.site.urls))

if settings.DEBUG:
    from django.conf.urls.static import static
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

urlpatterns.append(path("", include(wagtail_urls)))

# 503 with Retry-After instead of 500 while the database cannot be reached (cms/errors.py).
handler500 = "cms.errors.server_error"
