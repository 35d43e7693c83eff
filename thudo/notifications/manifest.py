"""The notifications domain's entries in the registry: none in the menus (the header links to
the inbox, with the unread count, for every signed-in user)."""

from thudo.core.registry import Manifest, registry

registry.register(Manifest(app_label="notifications"))
