from rest_framework import serializers


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """Resolves ids through a queryset built per request by `scope(serializer)`.

    The default manager already limits rows to the tenant; `scope` narrows further (e.g. to the
    task's onboarding). An id outside it fails exactly as an unknown id does.
    """

    def __init__(self, scope, **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.scope(self.root)
