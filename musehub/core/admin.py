"""What every ModelAdmin of the project shares."""

from __future__ import annotations

from django import forms
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.http import HttpResponseRedirect

from musehub.core.errors import flatten_messages


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


class ApiCheckedForm(forms.ModelForm):
    """A model form that also checks what it changes with the API's own request serializer
    (``api_serializer``), so staff can store nothing the API would refuse: the same limits,
    the same refusal of NUL and of unpaired surrogates, the same list shapes. Each refusal
    is a form error on its field."""

    api_serializer: type

    def clean(self):
        cleaned = super().clean()
        changed = {name: cleaned[name] for name in self.changed_data if name in cleaned}
        checker = self.api_serializer(data=changed, partial=True)
        if not checker.is_valid():
            for name, messages in checker.errors.items():
                self.add_error(name if name in self.fields else None, flatten_messages(messages))
        return cleaned


class JSONListField(forms.JSONField):
    """A JSON list typed into a textarea; an empty one is ``[]``. Anything but a list, or
    input nested too deep to parse, is a form error (``json.loads`` raises
    ``RecursionError`` on the latter, which Django's own field lets through: a 500)."""

    default_error_messages = {"not_a_list": 'Enter a JSON list, like ["alice", "bob"].'}

    def to_python(self, value):
        if value in self.empty_values:
            return []
        try:
            parsed = super().to_python(value)
        except RecursionError:
            raise ValidationError("Nested too deeply: enter a flat JSON list.", code="invalid") from None
        if not isinstance(parsed, list):
            raise ValidationError(self.error_messages["not_a_list"], code="not_a_list")
        return parsed

    def bound_data(self, data, initial):
        # A refused form shows the text as it was typed. Django's field parses it again to
        # show it, which fails the same way on input nested too deep, and a parsed lone
        # surrogate cannot even be rendered (both 500s).
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        return InvalidJSONInput(data)
