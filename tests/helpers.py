"""Small synthetic data for fast model tests (no corpus needed)."""

from __future__ import annotations

import torch

from course_lib.data import Batch, collate_batch


def copy_task_batches(n_batches: int = 4, batch_size: int = 8, vocab: int = 12, seed: int = 0, max_len: int = 7):
    """Batches of a copy task: the target repeats the source. Ids 4..vocab-1 are words."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n_batches):
        examples = []
        for _ in range(batch_size):
            n = int(torch.randint(2, max_len + 1, (1,), generator=g))
            words = torch.randint(4, vocab, (n,), generator=g).tolist()
            examples.append((words + [3], [2] + words + [3]))
        batches.append(collate_batch(examples, pad_id=0))
    return batches


class ListLoader:
    """A re-iterable list of batches that looks like a DataLoader to the Trainer."""

    def __init__(self, batches: list[Batch]):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)
