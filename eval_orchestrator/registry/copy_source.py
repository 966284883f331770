"""Copy a checkpoint folder into the registry without ever leaving it.

A symbolic link is followed only when what it points at lies inside the source folder (the file
it names is recorded as a regular file, as W&B's own ``add_dir`` does); a link out of the folder
(``ln -s ~/.ssh/id_rsa ckpt/x``), a dangling link, a loop, or anything that is not a regular file or
folder (a FIFO would block the copy forever) is refused with one line naming it, before a byte is
copied.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from eval_orchestrator.errors import UserError


def _refuse(src: Path, path: Path, why: str) -> UserError:
    return UserError(
        f"cannot register {str(src)!r}: {path.relative_to(src).as_posix()!r} {why}; "
        "copy the real files into the folder (e.g. `cp -rL`) or remove it"
    )


def plan_copy(src: Path) -> list[tuple[Path, str]]:
    """Every file to copy as (where its bytes are, its path in the checkpoint), links checked."""
    root = src.resolve()
    files: list[tuple[Path, str]] = []
    for folder, dirs, names in os.walk(src, followlinks=False):
        here = Path(folder)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                raise _refuse(src, here / name, "is a link to a folder (links are followed to files only)")
        for name in sorted(names):
            path = here / name
            relative = path.relative_to(src).as_posix()
            if path.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except FileNotFoundError:
                    raise _refuse(src, path, f"is a dangling link (to {os.readlink(path)!r})") from None
                except (RuntimeError, OSError):  # ELOOP: Python raises RuntimeError or OSError for loops
                    raise _refuse(src, path, "is a link loop") from None
                if not target.is_relative_to(root):
                    raise _refuse(src, path, f"links out of the folder (to {str(target)!r})")
                if not target.is_file():
                    raise _refuse(src, path, "links to something that is not a regular file")
                files.append((target, relative))
                continue
            mode = path.lstat().st_mode
            if not stat.S_ISREG(mode):
                raise _refuse(src, path, "is not a regular file (a FIFO, socket or device)")
            files.append((path, relative))
    return files


def copy_source(src: Path, dest: Path) -> None:
    """Copy ``src``'s files (as planned by :func:`plan_copy`) under ``dest``."""
    for origin, relative in plan_copy(src):
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, target)
