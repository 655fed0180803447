"""A KV-cache layer that writes into preallocated buffers instead of concatenating.

``transformers.DynamicLayer`` grows by ``torch.cat`` at every step: each decoded token
allocates and copies the whole key and value cache of every layer. On a CPU that costs more than
the model itself at batch 50 (page faults on fresh multi-megabyte buffers). This layer keeps the
``DynamicLayer`` interface and mask semantics (its length is what has been written) but stores
keys and values in buffers of a fixed capacity and exposes views of the written part.
"""

from __future__ import annotations

from typing import Any

from transformers.cache_utils import DynamicLayer


class PreallocatedLayer(DynamicLayer):
    """``DynamicLayer`` with buffers of ``capacity`` positions, allocated on the first update.

    Examples
    --------
    >>> import torch
    >>> layer = PreallocatedLayer(capacity=4)
    >>> k, v = layer.update(torch.ones(2, 1, 3, 2), torch.ones(2, 1, 3, 2))
    >>> tuple(k.shape), layer.get_seq_length()
    ((2, 1, 3, 2), 3)
    >>> k, v = layer.update(torch.zeros(2, 1, 1, 2), torch.zeros(2, 1, 1, 2))
    >>> tuple(k.shape), float(k[0, 0, 3].sum())
    ((2, 1, 4, 2), 0.0)
    """

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity
        self._k: Any = None
        self._v: Any = None
        self._n = 0

    def lazy_initialization(self, key_states, value_states) -> None:
        import torch

        super().lazy_initialization(key_states, value_states)
        b, h, _, d = key_states.shape
        self._k = torch.empty((b, h, self.capacity, d), dtype=key_states.dtype)
        self._v = torch.empty((b, h, self.capacity, value_states.shape[-1]), dtype=self.dtype)
        self._n = 0

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = key_states.shape[-2]
        if self._n + n > self.capacity:
            raise ValueError(
                f"KV cache capacity {self.capacity} exceeded ({self._n} + {n} positions); "
                "size the cache as prompt length + max_new_tokens."
            )
        self._k[:, :, self._n : self._n + n] = key_states
        self._v[:, :, self._n : self._n + n] = value_states
        self._n += n
        self.keys, self.values = self._k[:, :, : self._n], self._v[:, :, : self._n]
        return self.keys, self.values

    def _rebuild(self, k, v) -> None:
        import torch

        self._k = torch.empty((k.shape[0], *self._k.shape[1:]), dtype=self._k.dtype)
        self._v = torch.empty((v.shape[0], *self._v.shape[1:]), dtype=self._v.dtype)
        self._k[:, :, : self._n] = k
        self._v[:, :, : self._n] = v
        self.keys, self.values = self._k[:, :, : self._n], self._v[:, :, : self._n]

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self._n:
            self._rebuild(
                self.keys.repeat_interleave(repeats, dim=0),
                self.values.repeat_interleave(repeats, dim=0),
            )

    def batch_select_indices(self, indices) -> None:
        if self._n:
            self._rebuild(self.keys[indices], self.values[indices])

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove < 0 and self._n:
            self._n = max(0, self._n + tokens_to_remove)
            self.keys, self.values = self._k[:, :, : self._n], self._v[:, :, : self._n]
        else:
            super().crop(tokens_to_remove)
