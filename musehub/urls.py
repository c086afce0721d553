"""URL configuration: the API under /api/, the admin, the health probes."""

from django.contrib import admin
from django.urls import include, path, re_path, register_converter
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from musehub.api import converters
from musehub.api.errors import not_found
from musehub.api.health import healthz, readyz

register_converter(converters.HexIdConverter, "hexid")

api_patterns = [
    path("", include("repos_app.urls")),
    path("", include("sessions_app.urls")),
    path("", include("events_app.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Anything else under /api/ is a JSON 404, also with DEBUG on (Django's debug 404 is HTML).
    # csrf_exempt: an unknown path answers 404 to every method, never Django's HTML CSRF page.
    re_path(r"", csrf_exempt(not_found)),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]

handler400 = "musehub.api.errors.bad_request"
handler403 = "musehub.api.errors.permission_denied"
handler404 = "musehub.api.errors.not_found"
handler500 = "musehub.api.errors.server_error"
