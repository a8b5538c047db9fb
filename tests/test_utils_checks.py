"""Bad input to the small public helpers in ``course_lib.utils`` and ``models.base.select_batch``."""

import numpy as np
import pytest
import torch

from course_lib.models.base import select_batch
from course_lib.utils import autocast_dtype, check_shape, get_device, num_parameters, set_seed


@pytest.mark.parametrize("seed", [1.5, "0", None, True, [0]])
def test_set_seed_refuses_non_int(seed):
    with pytest.raises(TypeError, match="seed must be an int"):
        set_seed(seed)


@pytest.mark.parametrize("seed", [0, -1, 2**70, np.int64(7)])
def test_set_seed_accepts_any_int_and_repeats(seed):
    set_seed(seed)
    a = torch.rand(3)
    set_seed(seed)
    assert torch.equal(a, torch.rand(3))


def test_set_seed_negative_differs_from_positive():
    set_seed(-1)
    a = torch.rand(3)
    set_seed(1)
    assert not torch.equal(a, torch.rand(3))


@pytest.mark.parametrize("prefer", [1, 1.5, ["cpu"], True, torch.zeros(2)])
def test_get_device_refuses_non_str(prefer):
    with pytest.raises(TypeError, match="prefer must be"):
        get_device(prefer)


@pytest.mark.parametrize("prefer", ["gpu", "tpu", "cpu0"])
def test_get_device_unknown_name(prefer):
    with pytest.raises(ValueError, match="unknown device"):
        get_device(prefer)


@pytest.mark.parametrize("prefer", ["cpu", " CPU ", torch.device("cpu")])
def test_get_device_cpu_forms(prefer):
    assert get_device(prefer) == torch.device("cpu")


def test_get_device_bad_environment(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "abacus")
    with pytest.raises(ValueError, match="unknown device"):
        get_device()


@pytest.mark.parametrize("device", [None, 0, ["cpu"], 1.0])
def test_autocast_dtype_refuses_non_device(device):
    with pytest.raises(TypeError, match="torch.device"):
        autocast_dtype(device)


def test_autocast_dtype_bad_string():
    with pytest.raises(ValueError, match="not a device"):
        autocast_dtype("abacus")


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_autocast_dtype_cpu_is_fp32(device):
    assert autocast_dtype(device) is None


@pytest.mark.parametrize("tensor", [None, [[1, 2]], np.zeros((2, 2)), 3])
def test_check_shape_refuses_non_tensor(tensor):
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_shape(tensor, (2, 2))


@pytest.mark.parametrize("shape", ["22", 2, None, (2, 1.5), (True, 2), {2: 2}])
def test_check_shape_refuses_bad_shape_spec(shape):
    with pytest.raises(TypeError):
        check_shape(torch.zeros(2, 2), shape)


def test_check_shape_negative_size():
    with pytest.raises(ValueError, match="negative"):
        check_shape(torch.zeros(2, 2), (2, -2))


def test_check_shape_name_must_be_str():
    with pytest.raises(TypeError, match="name"):
        check_shape(torch.zeros(2), (2,), name=3)


def test_check_shape_mismatch_and_match():
    x = torch.zeros(2, 3)
    assert check_shape(x, (2, None)) is x
    assert check_shape(x, torch.Size([2, 3])) is x
    assert check_shape(torch.tensor(1.0), ()) is not None
    with pytest.raises(ValueError, match=r"expected \(2, 4\)"):
        check_shape(x, (2, 4))
    with pytest.raises(ValueError, match="expected"):
        check_shape(x, (2, 3, 1))


@pytest.mark.parametrize("module", [None, torch.zeros(3), "model", [torch.nn.Linear(2, 2)]])
def test_num_parameters_refuses_non_module(module):
    with pytest.raises(TypeError, match="nn.Module"):
        num_parameters(module)


@pytest.mark.parametrize("flag", [1, "yes", None])
def test_num_parameters_flag_must_be_bool(flag):
    with pytest.raises(TypeError, match="trainable_only"):
        num_parameters(torch.nn.Linear(2, 2), flag)


def test_num_parameters_counts():
    layer = torch.nn.Linear(3, 2)           # 6 weights + 2 biases
    assert num_parameters(layer) == 8
    layer.bias.requires_grad_(False)
    assert num_parameters(layer) == 6
    assert num_parameters(layer, trainable_only=False) == 8
    assert num_parameters(torch.nn.ReLU()) == 0


def test_select_batch_picks_rows_and_leaves_input():
    tensors = {"a": torch.arange(6).view(3, 2), "b": torch.arange(3)}
    out = select_batch(tensors, torch.tensor([2, 0, 2]))
    assert out["a"].tolist() == [[4, 5], [0, 1], [4, 5]]
    assert out["b"].tolist() == [2, 0, 2]
    assert tensors["b"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("tensors", [None, [torch.zeros(2)], torch.zeros(2), "ab"])
def test_select_batch_refuses_non_dict(tensors):
    with pytest.raises(TypeError, match="dictionary"):
        select_batch(tensors, torch.tensor([0]))


@pytest.mark.parametrize("index", [[0, 1], None, torch.tensor([0.0, 1.0]), torch.tensor([True, False])])
def test_select_batch_refuses_non_integer_index(index):
    with pytest.raises(TypeError, match="integer"):
        select_batch({"a": torch.zeros(2)}, index)


def test_select_batch_index_must_be_1d():
    with pytest.raises(ValueError, match="1-D"):
        select_batch({"a": torch.zeros(2)}, torch.tensor([[0, 1]]))


def test_select_batch_values_must_be_batched_tensors():
    with pytest.raises(TypeError, match="not a tensor"):
        select_batch({"a": [1, 2]}, torch.tensor([0]))
    with pytest.raises(ValueError, match="0-d"):
        select_batch({"a": torch.tensor(1.0)}, torch.tensor([0]))


def test_as_device_parses_and_checks_availability():
    from course_lib.utils import as_device

    assert as_device("cpu") == torch.device("cpu")
    assert as_device(torch.device("cpu"), check_available=True) == torch.device("cpu")
    with pytest.raises(TypeError, match="torch.device"):
        as_device(True)
    with pytest.raises(ValueError, match="not a device"):
        as_device("abacus")
    if not torch.cuda.is_available():
        assert as_device("cuda:0") == torch.device("cuda:0")      # parsing alone does not need the GPU
        with pytest.raises(ValueError, match="not available"):
            as_device("cuda:0", check_available=True)


def test_check_shape_message_shows_plain_sizes():
    """One shape message for check_shape and check_tensor: sizes as numbers (NumPy ints too), None as '*'."""
    import numpy as np

    with pytest.raises(ValueError, match=r"^h has shape \(2, 3\), expected \(2, \*, 4\)$"):
        check_shape(torch.zeros(2, 3), (np.int64(2), None, 4), "h")
    with pytest.raises(ValueError, match=r"expected \(3,\)$"):
        check_shape(torch.zeros(2, 3), (3,), "h")
