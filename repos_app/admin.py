"""The repos admin: owner, visibility, session count, collaborators, and a link to the
repo's sessions. Changes go through ``repos_app.services`` like the API's do."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from musehub.core.admin import ApiCheckedForm, NulSafeAdminMixin
from musehub.core.errors import ConflictError
from repos_app import services
from repos_app.models import Collaborator, Repo
from repos_app.serializers import RepoUpdateSerializer


class CollaboratorFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        seen = set()
        for form in self.forms:
            if not getattr(form, "cleaned_data", None) or form.cleaned_data.get("DELETE"):
                continue
            user = form.cleaned_data.get("user")
            if user is None:
                continue
            if user.pk == self.instance.owner_id:
                raise ValidationError("The owner already has every permission on the repo.")
            if user.pk in seen:
                raise ValidationError(f"'{user.username}' is listed twice.")
            seen.add(user.pk)


class CollaboratorInline(admin.TabularInline):
    model = Collaborator
    formset = CollaboratorFormSet
    fields = ("user", "permission", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("user",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class RepoForm(ApiCheckedForm):
    """Name, visibility and description, checked as ``PATCH /repos/{repoId}`` checks them;
    the slug comes from the name as the service makes it, and a taken slug is an error on
    the name."""

    api_serializer = RepoUpdateSerializer

    class Meta:
        model = Repo
        fields = ("name", "visibility", "description")

    def clean_name(self):
        name = self.cleaned_data["name"]
        try:
            slug = services.repo_slug(name)
            services.repo_check_slug_free(owner_id=self.instance.owner_id, slug=slug, repo_id=self.instance.pk)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        except ConflictError as exc:
            raise ValidationError(f"The owner already has a repo with the slug '{slug}'.") from exc
        return name


@admin.register(Repo)
class RepoAdmin(NulSafeAdminMixin, admin.ModelAdmin):
    form = RepoForm
    list_display = ("name", "owner_name", "visibility", "sessions", "created_at", "short_id")
    list_filter = ("visibility",)
    search_fields = ("repo_id", "name", "slug", "owner__username")
    search_help_text = "Search by repo id (or its first characters), name or owner."
    list_select_related = ("owner",)
    show_full_result_count = False
    inlines = (CollaboratorInline,)
    fields = (
        "repo_id",
        "owner",
        "name",
        "slug",
        "domain",
        "visibility",
        "description",
        "sessions",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("repo_id", "owner", "slug", "domain", "sessions", "created_at", "updated_at")

    @admin.display(description="id", ordering="repo_id")
    def short_id(self, obj: Repo) -> str:
        return obj.repo_id[:12]

    @admin.display(description="owner", ordering="owner__username")
    def owner_name(self, obj: Repo) -> str:
        return obj.owner.username

    @admin.display(description="sessions", ordering="session_count")
    def sessions(self, obj: Repo) -> str:
        """The kept session count, linking to the sessions list filtered to this repo."""
        url = reverse("admin:sessions_app_session_changelist") + f"?repo__exact={obj.repo_id}"
        return format_html('<a href="{}">{} session(s)</a>', url, obj.session_count)

    def has_add_permission(self, request) -> bool:
        # A repo's id is derived from its owner and creation time: create repos through
        # the API or `manage.py create_repo`.
        return False

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in RepoForm.Meta.fields}
        services.repo_update(repo_id=obj.pk, **changes)

    def get_deleted_objects(self, objs, request):
        """A summary for the delete confirmation page. Django's own lists every related row:
        a repo with 100,000 sessions would render 100,000 lines."""
        repos = list(objs)
        collaborators = Collaborator.objects.filter(repo__in=repos).count()
        summary = [f"{repo} ({repo.session_count} session(s), with its collaborators)" for repo in repos]
        model_count = {
            "repositories": len(repos),
            "recording sessions": sum(repo.session_count for repo in repos),
            "collaborators": collaborators,
        }
        perms_needed = set()
        if not self.has_delete_permission(request):
            perms_needed.add("repository")
        if not request.user.has_perm("sessions_app.delete_session"):
            perms_needed.add("recording session")
        return summary, model_count, perms_needed, []

    def delete_model(self, request, obj):
        services.repo_delete(repo_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for repo_id in queryset.values_list("repo_id", flat=True):
            services.repo_delete(repo_id=repo_id)

    def save_formset(self, request, form, formset, change):
        """Collaborators are added, changed and removed through the services."""
        repo = form.instance
        # What Django's change message (the object's history) reads from a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for deleted in formset.deleted_forms:
            if deleted.instance.pk:
                services.collaborator_remove(repo_id=repo.pk, username=deleted.instance.user.username)
                formset.deleted_objects.append(deleted.instance)
        for inline in formset.forms:
            if inline in formset.deleted_forms or not inline.has_changed():
                continue
            data = inline.cleaned_data
            if not data or data.get("user") is None:
                continue
            if inline.instance.pk:
                # The form already wrote the new user onto the instance: compare with the stored row.
                previous = Collaborator.objects.select_related("user").get(pk=inline.instance.pk)
                if previous.user_id != data["user"].pk:
                    services.collaborator_remove(repo_id=repo.pk, username=previous.user.username)
            _, created = services.collaborator_set(
                repo_id=repo.pk, username=data["user"].username, permission=data["permission"]
            )
            grant = Collaborator.objects.get(repo_id=repo.pk, user=data["user"])
            if created:
                formset.new_objects.append(grant)
            else:
                formset.changed_objects.append((grant, inline.changed_data))
