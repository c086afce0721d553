"""Static files storage: WhiteNoise's compressed, hashed names, forgiving before collectstatic."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """After ``collectstatic`` (``make run`` does it) pages link to hashed, compressed,
    cache-forever files. Before it (a fresh clone, the test suite) there is no manifest:
    the plain name is linked instead of failing the page, and WhiteNoise serves it from
    the installed apps (``WHITENOISE_USE_FINDERS``)."""

    manifest_strict = False

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            return name
