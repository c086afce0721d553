"""The repos admin: owner, visibility, session count, collaborators, and a link to the
repo's sessions. Changes go through ``repos_app.services`` like the API's do."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import slugify

from repos_app import services
from repos_app.models import Collaborator, Repo


def _has_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in query.lists())


class NulSafeAdminMixin:
    """PostgreSQL refuses text holding NUL (a 500 if it reaches a query): a filter, search
    or selection carrying one is treated like any other bad lookup (the list with ``?e=1``),
    an object id carrying one is an object that does not exist."""

    def changelist_view(self, request, extra_context=None):
        if _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST)):
            return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
        return super().changelist_view(request, extra_context)

    def get_object(self, request, object_id, from_field=None):
        if "\x00" in str(object_id):
            return None
        return super().get_object(request, object_id, from_field)


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


class RepoForm(forms.ModelForm):
    class Meta:
        model = Repo
        fields = ("name", "visibility", "description")

    def clean_name(self):
        name = self.cleaned_data["name"]
        slug = slugify(name)[:100].strip("-")
        if not slug:
            raise ValidationError("The name must contain at least one letter or digit.")
        taken = Repo.objects.filter(owner_id=self.instance.owner_id, slug=slug).exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(f"The owner already has a repo with the slug '{slug}'.")
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
        editable = {"name", "description", "visibility"}
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in editable}
        # ``obj`` already holds the new values; the service compares against the stored ones.
        stored = Repo.objects.get(pk=obj.pk)
        services.repo_update(repo=stored, **changes)

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
        services.repo_delete(repo=obj)

    def delete_queryset(self, request, queryset):
        for repo in queryset:
            services.repo_delete(repo=repo)

    def save_formset(self, request, form, formset, change):
        """Collaborators are added, changed and removed through the services."""
        repo = form.instance
        # What Django's change message (the object's history) reads from a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for deleted in formset.deleted_forms:
            if deleted.instance.pk:
                services.collaborator_remove(repo=repo, username=deleted.instance.user.username)
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
                    services.collaborator_remove(repo=repo, username=previous.user.username)
            grant, created = services.collaborator_set(
                repo=repo, username=data["user"].username, permission=data["permission"]
            )
            if created:
                formset.new_objects.append(grant)
            else:
                formset.changed_objects.append((grant, inline.changed_data))
