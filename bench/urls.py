"""The project's routes plus the benchmark's two references, under ``/bench/``."""

from django.urls import include, path

from bench.views import NaiveSessionList, Ping
from musehub import urls as project_urls  # imported first: it registers the ``hexid`` converter

urlpatterns = [
    path("", include(project_urls)),
    path("bench/ping", Ping.as_view()),
    path("bench/naive/<hexid:repo_id>", NaiveSessionList.as_view()),
]
