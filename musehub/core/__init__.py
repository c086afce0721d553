"""What every app shares and no app owns: errors the services raise, the one timestamp
format, camelCase names, compiled queries, keyset pagination, the commands' base, admin
mixins, validators, and the database cache table. Domain apps import from here, never
from each other's internals; nothing here knows about HTTP."""
