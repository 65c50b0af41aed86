"""Writes the small PyTorch fixtures the tests load. Run with Debian's python3-torch (1.13, CPU):

    /usr/bin/python3 tests/Microsoft.ML.Ntk.Tests/Fixtures/make_fixtures.py

mlp_tanh.torchscript.pt: torch.jit.script of nn.Sequential(Linear(3, 8), Tanh(), Linear(8, 8), Tanh(), Linear(8, 2)),
in float64 and evaluation mode, with weights from torch.manual_seed(1234). mlp_tanh.expected.txt holds its inputs and
the outputs PyTorch computed for them, one row per line.
"""
import os
import torch

here = os.path.dirname(os.path.abspath(__file__))


def write_expected(name, network, inputs):
    """Writes the inputs and the outputs PyTorch computes for them, one row per line, to name."""
    with torch.no_grad():
        outputs = network(inputs)
    with open(os.path.join(here, name), "w") as f:
        f.write("# inputs (%d values) then outputs (%d values) per row, printed by PyTorch %s\n"
                % (inputs.shape[1], outputs.shape[1], torch.__version__))
        for x, y in zip(inputs.tolist(), outputs.tolist()):
            f.write(" ".join(repr(v) for v in x + y) + "\n")

torch.manual_seed(1234)
net = torch.nn.Sequential(
    torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)
).double().eval()
scripted = torch.jit.script(net)
scripted.save(os.path.join(here, "mlp_tanh.torchscript.pt"))

write_expected("mlp_tanh.expected.txt", net, torch.linspace(-2, 2, 12, dtype=torch.float64).reshape(4, 3))

# mlp_relu.state_dict.pt: the state_dict of
# nn.Sequential(Linear(4, 6), ReLU(), Linear(6, 3)) from torch.manual_seed(99), saved by torch.save (zip format), and
# mlp_relu.expected.txt with PyTorch's outputs for fixed inputs. (Debian's python3-torch has no safetensors module; the
# tests write safetensors files themselves.)
torch.manual_seed(99)
relu = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)).eval()
torch.save(relu.state_dict(), os.path.join(here, "mlp_relu.state_dict.pt"))
write_expected("mlp_relu.expected.txt", relu, torch.linspace(-1, 1, 8).reshape(2, 4))
