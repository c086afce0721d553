"""Reference views the benchmark compares the real routes with.

Both are what a first DRF version would look like, with no authentication, permissions,
throttling or pagination: ``ping`` is the floor of what one DRF request costs here, and
``naive list`` is the textbook list of the same 50 rows the small-repo scenario lists.
"""

from __future__ import annotations

from rest_framework import generics, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions_app.models import Session


class Ping(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    renderer_classes = [JSONRenderer]

    def get(self, request):
        return Response({"ping": "pong"})


class NaiveSessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Session
        fields = "__all__"


class NaiveSessionList(generics.ListAPIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    renderer_classes = [JSONRenderer]
    pagination_class = None
    serializer_class = NaiveSessionSerializer

    def get_queryset(self):
        return Session.objects.filter(repo_id=self.kwargs["repo_id"]).order_by("-started_at", "-session_id")[:50]
