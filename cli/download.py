"""`download`: a dataset, verified, unless it is already present."""

import argparse

from mlp.hyperparams import DATASET

from .progress import DownloadBar


def cmd_download(args: argparse.Namespace) -> int:
    """Download (and verify) a dataset unless it is already present."""
    from data import download_dataset, find_dataset

    names = DATASET.choices if args.dataset == "all" else (args.dataset,)
    for name in names:
        found = find_dataset(name)
        if found is not None:
            print(f"{name}: already present in {found}")
            continue
        path = download_dataset(name, progress=DownloadBar())
        print(f"{name}: downloaded and verified into {path}")
    return 0
