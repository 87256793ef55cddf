"""Property-based fuzzing of everything that parses user input.

The dataset readers (npz, IDX, CIFAR-10 pickles, SVHN .mat, CelebA images / partition file /
zip / cache, gzip digests) get random bytes and truncated or mutated valid files; the config
loader gets random sections, keys and values (nested dicts, lists, None, huge ints, NaN,
strings), random ``--key=value`` overrides and random YAML files. The property everywhere:
the only exceptions are lae's own (:class:`lae.errors.LaeError` subclasses), never another type,
a hang or a crash.

Each property runs in two forms: a short one (fixed seed, ``derandomize=True``, 50 examples and a
deadline per example) that CI runs, and a long one (marker ``long``: ``pytest --long``) with many
more, randomly drawn examples.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import pickle
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lae.data import DataConfig, celeba, cifar10, idx, load_dataset, svhn
from lae.data.download import file_digest
from lae.errors import LaeError
from lae.train.config import TrainConfig, config_from_dict, load_config, parse_overrides

_COMMON = dict(suppress_health_check=list(HealthCheck), print_blob=True)
PROFILES = {
    # CI: reproducible (no example database, derandomised), bounded in time.
    "short": settings(max_examples=50, deadline=timedelta(milliseconds=800), derandomize=True,
                      database=None, **_COMMON),
    "long": settings(max_examples=1500, deadline=timedelta(seconds=5), **_COMMON),
}
MODES = ["short", pytest.param("long", marks=pytest.mark.long)]


def run_property(mode: str, strategy: st.SearchStrategy, check: Callable[..., None]) -> None:
    """Run ``check(example)`` for examples of ``strategy`` under the profile ``mode``."""

    @PROFILES[mode]
    @given(strategy)
    def prop(example: object) -> None:
        check(example)

    prop()


def only_lae_errors(fn: Callable[..., object], *args: object, **kwargs: object) -> None:
    """Call ``fn``: returning or raising a LaeError passes; any other exception fails the test."""
    with contextlib.suppress(LaeError):
        fn(*args, **kwargs)


def fed_as_file(name: str, reader: Callable[..., object], *args: object
                ) -> Callable[[bytes], None]:
    """A check that writes the example bytes to a fresh file ``name`` and calls
    ``reader(path, *args)``: only LaeErrors may come out."""

    def check(raw: bytes) -> None:
        with scratch() as d:
            (d / name).write_bytes(raw)
            only_lae_errors(reader, d / name, *args)

    return check


# -- byte mutations of valid files ---------------------------------------------------------------

def mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """Truncations, byte overwrites, insertions and deletions of ``valid``, and random bytes."""
    n = len(valid)
    truncated = st.integers(0, max(n - 1, 0)).map(lambda k: valid[:k])

    @st.composite
    def overwritten(draw: st.DrawFn) -> bytes:
        out = bytearray(valid)
        for _ in range(draw(st.integers(1, 8))):
            # Most structure is in the first bytes (headers): bias positions towards them.
            pos = draw(st.one_of(st.integers(0, min(n, 64) - 1), st.integers(0, n - 1)))
            out[pos] = draw(st.integers(0, 255))
        return bytes(out)

    @st.composite
    def spliced(draw: st.DrawFn) -> bytes:
        a = draw(st.integers(0, n))
        b = draw(st.integers(a, min(n, a + 64)))
        return valid[:a] + draw(st.binary(max_size=64)) + valid[b:]

    return st.one_of(truncated, overwritten(), spliced(), st.binary(max_size=2 * n + 16))


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A fresh temporary folder per example (hypothesis runs many examples per test)."""
    with tempfile.TemporaryDirectory(prefix="lae-fuzz-") as d:
        yield Path(d)


# -- npz -----------------------------------------------------------------------------------------

def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npz_compressed_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


_VALID_NPZ = [
    _npz_bytes(x_train=np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4),
               x_test=np.zeros((2, 4, 4), np.uint8), y_train=np.arange(3), y_test=np.arange(2)),
    _npz_compressed_bytes(x_train=np.linspace(-1, 1, 12).reshape(6, 2),
                          x_test=np.zeros((2, 2), np.float32)),
]


def _load_npz_bytes(raw: bytes) -> None:
    with scratch() as d:
        (d / "data.npz").write_bytes(raw)
        only_lae_errors(load_dataset, DataConfig(name="npz", path=str(d / "data.npz")))


@pytest.mark.parametrize("mode", MODES)
def test_npz_mutated_and_random_bytes(mode):
    run_property(mode, st.one_of(*(mutated(v) for v in _VALID_NPZ)), _load_npz_bytes)


_DTYPES = st.sampled_from(["u1", "u2", ">u4", "u8", "i1", "<i2", ">i8", "f2", "f4", ">f8", "c8",
                           "?", "U2", "S3", "V4", "M8[s]", "m8[s]", "O"])
_KEYS = st.one_of(st.sampled_from(["x_train", "x_test", "y_train", "y_test"]),
                  st.text("abcxy_", min_size=1, max_size=8))


@st.composite
def _arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(_DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=5)))
    size = math.prod(shape)
    if dtype.kind == "O":
        return np.array([None] * size, dtype=object).reshape(shape)
    if dtype.kind in "fc":
        values = draw(st.lists(st.sampled_from([0.0, 1.0, 255.0, -3.5, np.nan, np.inf, -np.inf,
                                                1e39, 1e300, 0.5]),
                               min_size=size, max_size=size))
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 as float16 is meant to be inf
            return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)
    raw = draw(st.binary(min_size=size * dtype.itemsize, max_size=size * dtype.itemsize))
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _load_npz_arrays(example: tuple[dict[str, np.ndarray], dict[str, object]]) -> None:
    arrays, options = example
    with scratch() as d:
        with (d / "data.npz").open("wb") as f:
            np.savez(f, **arrays)
        only_lae_errors(load_dataset, DataConfig(name="npz", path=str(d / "data.npz"), **options))


_NPZ_OPTIONS = st.fixed_dictionaries({}, optional={
    "binarize": st.sampled_from(["none", "static", "dynamic"]),
    "val_size": st.sampled_from([0.0, 0.5, 1, 2, 100]),  # counts are integers (1.0 is refused)
    "holdout_class": st.integers(-1, 3),
})


@pytest.mark.parametrize("mode", MODES)
def test_npz_random_arrays(mode):
    run_property(mode, st.tuples(st.dictionaries(_KEYS, _arrays(), max_size=5), _NPZ_OPTIONS),
                 _load_npz_arrays)


# -- IDX -----------------------------------------------------------------------------------------

_VALID_IDX = {
    3: idx.idx_bytes(np.arange(2 * 5 * 4).reshape(2, 5, 4) % 256),
    1: idx.idx_bytes(np.arange(7) % 10),
}


def _read_idx_bytes(example: tuple[int, bytes, bool]) -> None:
    ndim, raw, gz = example
    with scratch() as d:
        (d / "f").write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
        only_lae_errors(idx.read_idx, d / "f", ndim)


@pytest.mark.parametrize("mode", MODES)
def test_idx_mutated_and_random_bytes(mode):
    strategy = st.one_of(*(st.tuples(st.just(ndim), mutated(v), st.booleans())
                           for ndim, v in _VALID_IDX.items()))
    run_property(mode, strategy, _read_idx_bytes)


_read_idx_gz_mutations = fed_as_file("f.gz", idx.read_idx, 3)


@pytest.mark.parametrize("mode", MODES)
def test_idx_corrupt_gzip_streams(mode):
    run_property(mode, mutated(gzip.compress(_VALID_IDX[3], mtime=0)), _read_idx_gz_mutations)


def _load_mnist_folder(example: tuple[str, bytes]) -> None:
    which, raw = example
    with scratch() as d:
        rng = np.random.default_rng(0)
        for prefix, n in (("train", 6), ("t10k", 3)):
            idx.write_idx(d / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 2, 2)))
            idx.write_idx(d / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
        (d / which).write_bytes(raw)
        only_lae_errors(load_dataset, DataConfig(name="mnist", data_dir=str(d)))


@pytest.mark.parametrize("mode", MODES)
def test_mnist_dataset_with_one_damaged_file(mode):
    files = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    strategy = st.tuples(st.sampled_from(files),
                         st.one_of(mutated(_VALID_IDX[3]), mutated(_VALID_IDX[1])))
    run_property(mode, strategy, _load_mnist_folder)


# -- CIFAR-10 pickles ----------------------------------------------------------------------------

def _cifar_batch(n: int = 2, protocol: int = 2) -> bytes:
    rng = np.random.default_rng(0)
    return pickle.dumps({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         b"labels": [int(v) for v in rng.integers(0, 10, n)],
                         b"batch_label": b"training batch 1 of 5"}, protocol=protocol)


def _parse_cifar(raw: bytes) -> None:
    only_lae_errors(cifar10._parse_batch, raw, "fuzz")


@pytest.mark.parametrize("mode", MODES)
def test_cifar_batch_mutated_and_random_bytes(mode):
    run_property(mode, st.one_of(*(mutated(_cifar_batch(protocol=p)) for p in (2, 4, 5))),
                 _parse_cifar)


_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.binary(max_size=8),
                    st.text(max_size=8), _arrays())


def _pickle_batch(example: tuple[object, object, object]) -> None:
    data, labels, extra = example
    batch = {b"data": data, b"labels": labels, b"extra": extra}
    _parse_cifar(pickle.dumps(batch if extra is not None else [data, labels]))


@pytest.mark.parametrize("mode", MODES)
def test_cifar_batch_of_random_python_values(mode):
    values = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.binary(max_size=6), inner, max_size=4),
                          max_leaves=8)
    run_property(mode, st.tuples(values, values, values), _pickle_batch)


def _cifar_tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


_VALID_CIFAR_TAR = _cifar_tar({**{f"data_batch_{i}": _cifar_batch(1) for i in range(1, 6)},
                               "test_batch": _cifar_batch(1)})


def _load_cifar_tar(raw: bytes) -> None:
    with scratch() as d:
        (d / "cifar-10-python.tar.gz").write_bytes(raw)
        only_lae_errors(load_dataset, DataConfig(name="cifar10", data_dir=str(d)))


@pytest.mark.parametrize("mode", MODES)
def test_cifar_tar_gz_mutated(mode):
    run_property(mode, mutated(_VALID_CIFAR_TAR), _load_cifar_tar)


# -- SVHN .mat -----------------------------------------------------------------------------------

def _mat_bytes(**variables: np.ndarray) -> bytes:
    buf = io.BytesIO()
    scipy.io.savemat(buf, variables)
    return buf.getvalue()


_VALID_MAT = [
    _mat_bytes(X=np.zeros((32, 32, 3, 1), np.uint8), y=np.array([[3]])),
    _mat_bytes(X=np.zeros((2, 2)), y=np.array([[1.5]]), z=np.array(["ab"])),
]


_read_svhn = fed_as_file("train_32x32.mat", svhn.read_svhn_mat)


@pytest.mark.parametrize("mode", MODES)
def test_svhn_mat_mutated_and_random_bytes(mode):
    run_property(mode, st.one_of(*(mutated(v) for v in _VALID_MAT)), _read_svhn)


def _svhn_arrays(example: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = example
    with scratch() as d:
        try:
            scipy.io.savemat(d / "m.mat", {"X": x, "y": y})
        except (ValueError, TypeError):  # not something MATLAB can store: nothing to read
            return
        only_lae_errors(svhn.read_svhn_mat, d / "m.mat")


@pytest.mark.parametrize("mode", MODES)
def test_svhn_mat_random_variables(mode):
    run_property(mode, st.tuples(_arrays(), _arrays()), _svhn_arrays)


# -- CelebA --------------------------------------------------------------------------------------

def _jpeg(size: tuple[int, int] = (150, 150)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def _png(size: tuple[int, int] = (150, 150)) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, 7).save(buf, "PNG")
    return buf.getvalue()


_crop_resize = fed_as_file("000001.jpg", celeba._crop_resize)


@pytest.mark.parametrize("mode", MODES)
def test_celeba_image_mutated_and_random_bytes(mode):
    run_property(mode, st.one_of(mutated(_jpeg()), mutated(_png())), _crop_resize)


_VALID_PARTITION = b"000001.jpg 0\n000002.jpg 2\n"


_read_partition = fed_as_file("list_eval_partition.txt", celeba._read_partition)


@pytest.mark.parametrize("mode", MODES)
def test_celeba_partition_file_mutated_and_random_bytes(mode):
    run_property(mode, mutated(_VALID_PARTITION), _read_partition)


def _celeba_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("img_align_celeba/000001.jpg", _jpeg())
        zf.writestr("img_align_celeba/000002.jpg", _jpeg())
    return buf.getvalue()


_extract_zip = fed_as_file("img_align_celeba.zip", celeba._extract_zip)


@pytest.mark.parametrize("mode", MODES)
def test_celeba_zip_mutated_and_random_bytes(mode):
    run_property(mode, mutated(_celeba_zip()), _extract_zip)


def _valid_cache() -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"images": torch.zeros(1, 3, 64, 64, dtype=torch.uint8)}, buf)
    return buf.getvalue()


def _load_with_cache(raw: bytes) -> None:
    with scratch() as d:
        folder = d / "img_align_celeba"
        folder.mkdir()
        (folder / "000001.jpg").write_bytes(_jpeg())
        cache = d / f"celeba64_{celeba._cache_key(sorted(folder.glob('*.jpg')))}.pt"
        cache.write_bytes(raw)
        only_lae_errors(celeba.load_images, folder)


@pytest.mark.parametrize("mode", MODES)
def test_celeba_cache_mutated_and_random_bytes(mode):
    run_property(mode, mutated(_valid_cache()), _load_with_cache)


# -- gzip digests (the checksum check of downloaded and local files) ----------------------------

def _digest(raw: bytes) -> None:
    fed_as_file("f.gz", lambda path: file_digest(path, "sha256", decompressed=True))(raw)


@pytest.mark.parametrize("mode", MODES)
def test_gzip_digest_mutated_and_random_bytes(mode):
    run_property(mode, mutated(gzip.compress(b"x" * 300 + bytes(range(256)), mtime=0)), _digest)


# -- the config loader ---------------------------------------------------------------------------

_FIELD_NAMES = sorted({f for f in TrainConfig.__dataclass_fields__}
                      | set(DataConfig.__dataclass_fields__)
                      | {"name", "latent_dim", "net", "likelihood", "likelihood_options", "arch",
                         "hidden", "depth", "objective", "k", "flow", "n_flows", "n_steps",
                         "step_size", "sampler", "target_acceptance", "base"})
_SECTIONS = ["data", "model", "train"]
_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.sampled_from([0, -1, 1, 2**63, 2**64, -(2**70), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e308, 1e-320, -0.0]),
    st.text(max_size=12),
    st.sampled_from(["vae", "lae", "ld", "hoffman", "vae_flow", "adam", "sgd", "cpu", "auto",
                     "nan", "inf", "1e-4", "mlp", "conv", "npz", "toy2d:moons", "static", "-11"]),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.one_of(st.sampled_from(_FIELD_NAMES),
                                                   st.text(max_size=6), st.integers(), st.none()),
                                         inner, max_size=3),
                       max_leaves=10)
_KEY_NAMES = st.one_of(st.sampled_from(_FIELD_NAMES), st.text(max_size=6))
_SECTION_DICTS = st.dictionaries(_KEY_NAMES, _VALUES, max_size=4)
_RAW_CONFIGS = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(_SECTIONS), st.text(max_size=6), st.integers()),
                    st.one_of(_SECTION_DICTS, _VALUES), max_size=4),
    _VALUES,
)


@pytest.mark.parametrize("mode", MODES)
def test_config_from_random_dicts(mode):
    run_property(mode, _RAW_CONFIGS, lambda raw: only_lae_errors(config_from_dict, raw))


_OVERRIDE_TEXT = st.one_of(
    st.text(max_size=30),
    st.builds(lambda s, k, eq, v: f"{s}.{k}{eq}{v}", st.sampled_from(_SECTIONS + ["model.net"]),
              _KEY_NAMES, st.sampled_from(["=", "==", ""]),
              st.one_of(st.text(max_size=12),
                        st.sampled_from(["[1, 2]", "{a: 1}", "null", "~", "1e999", "-.inf",
                                         ".nan", "[[[[", "{", "!!python/object:os.system x",
                                         "1" * 5000, "'unterminated", "2024-01-01", "0x10",
                                         "[0.9, 0.999]", "[0.9]", "[1.0, 0.5]"]))),
)


@pytest.mark.parametrize("mode", MODES)
def test_parse_overrides_random_strings(mode):
    run_property(mode, st.lists(_OVERRIDE_TEXT, max_size=4),
                 lambda items: only_lae_errors(parse_overrides, items))


@pytest.mark.parametrize("mode", MODES)
def test_load_config_with_random_overrides(mode):
    run_property(mode, st.lists(_OVERRIDE_TEXT, max_size=4),
                 lambda items: only_lae_errors(load_config, "vae-toy2d", items))


def _yaml_file(example: tuple[bytes, list[str]]) -> None:
    raw, overrides = example
    with scratch() as d:
        (d / "c.yaml").write_bytes(raw)
        only_lae_errors(load_config, str(d / "c.yaml"), overrides)


_VALID_YAML = (b"base: vae-toy2d\ntrain:\n  epochs: 3\n  adam_betas: [0.5, 0.9]\n"
               b"model:\n  latent_dim: 2\n  net: {hidden: 8}\ndata:\n  n_toy: 100\n")


@pytest.mark.parametrize("mode", MODES)
def test_load_config_from_random_yaml_files(mode):
    strategy = st.tuples(st.one_of(mutated(_VALID_YAML), st.text(max_size=60).map(str.encode)),
                         st.lists(_OVERRIDE_TEXT, max_size=2))
    run_property(mode, strategy, _yaml_file)


@pytest.mark.parametrize("mode", MODES)
def test_load_config_with_random_preset_names(mode):
    names = st.one_of(st.text(max_size=20), st.sampled_from(["", ".", "/", "/dev/null", "\x00",
                                                             "x" * 5000, "a.yaml", "~nobody/x"]))
    run_property(mode, names, lambda name: only_lae_errors(load_config, name))
