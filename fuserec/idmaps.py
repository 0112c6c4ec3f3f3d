"""Raw id <-> index lookups shared by everything that carries ``user_ids`` and ``item_ids``
(:class:`fuserec.data.dataset.Dataset`, :class:`fuserec.serving.ServingData`)."""

from __future__ import annotations

from functools import cached_property


class IdMaps:
    """Mixin over ``user_ids`` (n_users,) and ``item_ids`` (n_items,) arrays of raw ids."""

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @cached_property
    def user_index(self) -> dict[str, int]:
        """Raw user id -> user index."""
        return {str(u): i for i, u in enumerate(self.user_ids)}

    @cached_property
    def item_index(self) -> dict[str, int]:
        """Raw item id -> item index."""
        return {str(u): i for i, u in enumerate(self.item_ids)}
